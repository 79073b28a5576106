"""Routes of this mount; see API.md."""

from fastapi import APIRouter

router = APIRouter()
