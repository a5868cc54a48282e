"""The ASGI application: HTTP through Django, WebSockets through Channels."""

import gc
import os
import sys

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcentre.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from contactcentre.routing import websocket_urlpatterns  # noqa: E402
from runtime import collector, error_reporting  # noqa: E402
from runtime.connection_limits import WebSocketLimit  # noqa: E402
from runtime.metrics import WebSocketMetrics  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": WebSocketLimit(
            WebSocketMetrics(
                error_reporting.sockets(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
                routes={"/ws/agent/": "agent", "/ws/webchat/": "customer"},
            )
        ),
    }
)

if settings.JOBS_IN_PROCESS:
    from routing.scheduler import start_in_process_jobs

    start_in_process_jobs()

# What start-up created lives as long as the process: freeze it out of the cyclic collector's scans, which
# otherwise walk all of it again on every full collection. What connections create later is frozen as it
# ages, and collected in full now and then (runtime/collector.py).
gc.collect()
gc.freeze()
collector.start(freeze_seconds=settings.GC_FREEZE_SECONDS, full_seconds=settings.GC_FULL_SECONDS)

# The event loop and the database threads take turns holding the GIL. A thread back from a socket read
# waits for the running one to yield it, by default after up to 5 ms: a millisecond keeps each database
# round trip and each socket write from costing a whole default switch interval.
sys.setswitchinterval(0.001)
