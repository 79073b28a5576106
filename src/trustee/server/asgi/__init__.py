"""The ASGI layers every request crosses, whatever face it is for: the body cap, the audit
device, the request gate (a face's conventions, rate limits, the one JSON decoding, hot routes).

Nothing here knows a wire shape. Where a layer must refuse a request, it asks the request's
:class:`~trustee.server.asgi.faces.Face` to say so in that face's own shape.
"""
