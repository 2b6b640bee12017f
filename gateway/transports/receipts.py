"""`GET /api/v1/receipts/{receiptId}`: an institution reads one of its own receipts again.

Any authenticated institution may call it; another institution's receipt answers `404`, exactly
as one that does not exist (README §1), so receipt ids reveal nothing across institutions.
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response

from gateway.errors import GatewayError
from gateway.transports.common import Submitter, caller_of
from gateway.transports.problem import render_problem

PATH = "/api/v1/receipts/{receipt_id}"


def router(pipeline: Submitter) -> APIRouter:
    api = APIRouter()

    @api.get(PATH, name="receipt")
    async def receipt(receipt_id: str, request: Request) -> Response:
        try:
            found = await pipeline.receipt(caller_of(request), receipt_id)
        except GatewayError as error:
            return render_problem(error, request.url.path)
        return Response(orjson.dumps(found.to_json()), media_type="application/json")

    return api
