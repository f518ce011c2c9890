"""A Streamlit session without a browser: the websocket protocol a browser tab speaks, for the load test.

One ``StreamlitClient`` is what one open tab costs the server: a websocket on /_stcore/stream carrying
protobuf ``BackMsg``/``ForwardMsg`` messages, file uploads by HTTP PUT to /_stcore/upload_file, and images
fetched by HTTP GET from /media. It keeps the widget states it has set and sends all of them with every
rerun, as the frontend does. It renders nothing, so the load generator does not take the server's CPU.

Only what benchmarks/load.py needs is implemented: open a page, choose a radio option, upload a file, set a
slider, move the rank scrubber (``ui/components/scrubber``) the way its JavaScript does, by the component's
state (``report_ready``, ``settle``), and wait for an image (by its caption) and for the end of the run. Like
a browser it keeps the large messages it received and lists their hashes in each rerun request, so the
server sends the scrubber's payload once and then only a reference. ``websockets`` and the protobuf classes
are Streamlit's own dependencies.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.cookies import SimpleCookie

XSRF_COOKIE = "_streamlit_xsrf"
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
CACHED_MESSAGES = 64  # cacheable messages a client keeps (the browser keeps those of recent runs)


@dataclass
class RunResult:
    """What one rerun showed: the first new image URL whose caption starts with the watched prefix."""

    image_url: str | None = None
    image_caption: str | None = None
    image_seconds: float | None = None  # send -> image bytes fetched
    finished_seconds: float | None = None  # send -> script finished
    bytes_received: int = 0  # websocket bytes that arrived while the run went on
    references: int = 0  # messages that came as a reference to one this client keeps
    metrics: dict[str, str] = field(default_factory=dict)  # metric label -> value shown in this run
    errors: list[str] = field(default_factory=list)
    queued: list[str] = field(default_factory=list)  # "Queued (k ahead): …" notices the run showed


def _http(method: str, url: str, *, data: bytes | None = None, headers: dict | None = None,
          timeout: float = 120) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, dict(response.headers), response.read()


def _multipart(name: str, data: bytes, mime: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: {mime}\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


class StreamlitClient:
    """One session of ``base_url`` (http://127.0.0.1:PORT) on ``page`` (its url path, e.g. "image")."""

    def __init__(self, base_url: str, page: str, *, watch_caption: str = "Rank "):
        self.base_url = base_url.rstrip("/")
        self.page = page
        self.watch_caption = watch_caption
        self.session_id = ""
        self.page_hash = ""
        self.elements: dict[str, object] = {}  # widget id -> its element proto, in the latest run
        self.states: dict[str, object] = {}  # widget id -> WidgetState we set
        self.xsrf = ""
        self._ws = None
        self._reader: asyncio.Task | None = None
        self._run: RunResult | None = None
        self._sent_at = 0.0
        self._last_image: str | None = None
        self._finished = asyncio.Event()
        self._image_seen = asyncio.Event()
        self._file_urls: dict[str, asyncio.Future] = {}
        self._pending_fetches: list[asyncio.Task] = []
        self._cached: dict[str, object] = {}  # hash -> cacheable ForwardMsg, oldest first

    # ---------------------------------------------------------------------------------------- connect
    async def connect(self) -> None:
        import websockets

        # as the frontend does: the health check first, which also sets the XSRF cookie uploads need
        _, headers, _ = await asyncio.to_thread(_http, "GET", self.base_url + "/_stcore/health")
        cookie = SimpleCookie()
        for key, value in headers.items():
            if key.lower() == "set-cookie":
                cookie.load(value)
        self.xsrf = cookie[XSRF_COOKIE].value if XSRF_COOKIE in cookie else ""
        ws_url = "ws" + self.base_url[len("http"):] + "/_stcore/stream"
        extra = {"Cookie": f"{XSRF_COOKIE}={self.xsrf}"} if self.xsrf else {}
        self._ws = await websockets.connect(ws_url, subprotocols=["streamlit"], origin=self.base_url,
                                            additional_headers=extra, max_size=MAX_MESSAGE_BYTES,
                                            open_timeout=60, ping_interval=None)
        self._reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        for task in self._pending_fetches:
            task.cancel()
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - closing: nothing left to report
                pass

    # ------------------------------------------------------------------------------------------- read
    async def _read(self) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        async for data in self._ws:
            msg = ForwardMsg()
            msg.ParseFromString(data)
            if self._run is not None:
                self._run.bytes_received += len(data)
            if msg.WhichOneof("type") == "ref_hash":  # a message this client already holds
                cached = self._cached.get(msg.ref_hash)
                if cached is None:
                    if self._run is not None:
                        self._run.errors.append(f"a reference to a message never received: {msg.ref_hash}")
                    continue
                msg = cached
                if self._run is not None:
                    self._run.references += 1
            elif msg.metadata.cacheable and msg.hash:
                self._cached[msg.hash] = msg
                while len(self._cached) > CACHED_MESSAGES:
                    self._cached.pop(next(iter(self._cached)))
            kind = msg.WhichOneof("type")
            if kind == "new_session":
                self.session_id = msg.new_session.initialize.session_id or self.session_id
            elif kind == "navigation":
                self.page_hash = msg.navigation.page_script_hash or self.page_hash
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                self._element(msg.delta.new_element)
            elif kind == "file_urls_response":
                future = self._file_urls.pop(msg.file_urls_response.response_id, None)
                if future is not None and not future.done():
                    future.set_result(msg.file_urls_response)
            elif kind == "script_finished":
                if msg.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    continue  # the script asked for a rerun: the run goes on
                if self._run is not None:
                    self._run.finished_seconds = time.perf_counter() - self._sent_at
                self._finished.set()

    def _element(self, element) -> None:
        kind = element.WhichOneof("type")
        run = self._run
        if kind in ("slider", "radio", "file_uploader", "selectbox", "number_input", "checkbox", "toggle",
                    "bidi_component"):
            proto = getattr(element, kind)
            self.elements[proto.id] = proto
        elif kind == "imgs" and run is not None and run.image_url is None:
            for image in element.imgs.imgs:
                if image.caption.startswith(self.watch_caption) and image.url != self._last_image:
                    run.image_url = self._last_image = image.url
                    run.image_caption = image.caption
                    self._pending_fetches = [t for t in self._pending_fetches if not t.done()]
                    self._pending_fetches.append(asyncio.create_task(self._fetch_image(run, image.url)))
                    break
        elif kind == "metric" and run is not None:
            run.metrics[element.metric.label] = element.metric.body
        elif kind == "exception" and run is not None:
            run.errors.append(f"exception: {element.exception.type}: {element.exception.message[:200]}")
        elif kind == "alert" and run is not None and element.alert.format == 1:  # Alert.ERROR
            run.errors.append(f"error alert: {element.alert.body[:200]}")
        elif kind == "alert" and run is not None and element.alert.body.startswith("Queued ("):
            run.queued.append(element.alert.body[:120])

    async def _fetch_image(self, run: RunResult, url: str) -> None:
        full = url if url.startswith("http") else self.base_url + url
        try:
            status, _, body = await asyncio.to_thread(_http, "GET", full)
            if status != 200 or not body:
                run.errors.append(f"image {url}: HTTP {status}, {len(body)} bytes")
        except OSError as err:
            run.errors.append(f"image {url}: {err}")
        run.image_seconds = time.perf_counter() - self._sent_at
        self._image_seen.set()

    # ------------------------------------------------------------------------------------------ write
    def widget_id(self, key: str) -> str:
        """The id of the widget created with ``key=key`` (Streamlit ends such ids with "-" + key)."""
        for widget_id in self.elements:
            if widget_id.endswith("-" + key):
                return widget_id
        raise KeyError(f"no widget with key {key!r} on the page yet")

    def set_string(self, key: str, value: str) -> None:
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        widget_id = self.widget_id(key)
        self.states[widget_id] = WidgetState(id=widget_id, string_value=value)

    def set_slider(self, key: str, value: float) -> None:
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        widget_id = self.widget_id(key)
        state = WidgetState(id=widget_id)
        state.double_array_value.data[:] = [float(value)]
        self.states[widget_id] = state

    def component_data(self, key: str) -> dict:
        """The JSON data a custom component (v2) mounted with ``key`` was given in the last run."""
        return json.loads(self.elements[self.widget_id(key)].json)

    def set_component_state(self, key: str, **values) -> None:
        """Set values of a custom component's state (the others kept), as its ``setStateValue`` does."""
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        widget_id = self.widget_id(key)
        previous = self.states.get(widget_id)
        state = json.loads(previous.json_value) if previous is not None else {}
        state.update(values)
        self.states[widget_id] = WidgetState(id=widget_id, json_value=json.dumps(state))

    def report_ready(self, key: str) -> None:
        """What the rank scrubber sends once it has drawn its first picture."""
        self.set_component_state(key, status={"state": "ready"})

    def settle(self, key: str, rank: int) -> None:
        """What the rank scrubber sends when the handle comes to rest on ``rank`` (its rerun not started)."""
        data = self.component_data(key)
        ranks = list(data["ranks"]) if data.get("ranks") else [int(rank)]
        if data.get("ranks") and data.get("group") is not None:
            ranks[data["group"]] = int(rank)
        settled = {"rank": int(rank), "ranks": ranks, "seen": data["command"]["nonce"]}
        self.set_component_state(key, status={"state": "ready"}, settled=settled)

    def slider_value(self, key: str) -> tuple[float, float, float]:
        """(value, min, max) of a slider as the last run declared it: its value is the one the script gave
        (the default, or one set through session state), not one a client sent."""
        proto = self.elements[self.widget_id(key)]
        value = proto.value if proto.set_value else proto.default
        return float(value[0]), float(proto.min), float(proto.max)

    async def upload(self, key: str, name: str, data: bytes, mime: str, timeout: float = 120) -> None:
        """Put a file into the uploader with ``key`` as the frontend does (its rerun is not started here)."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.Common_pb2 import UploadedFileInfo
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        widget_id = self.widget_id(key)
        request_id = uuid.uuid4().hex
        future = asyncio.get_running_loop().create_future()
        self._file_urls[request_id] = future
        back = BackMsg()
        back.file_urls_request.request_id = request_id
        back.file_urls_request.file_names.append(name)
        back.file_urls_request.session_id = self.session_id
        await self._ws.send(back.SerializeToString())
        response = await asyncio.wait_for(future, timeout)
        if response.error_msg:
            raise RuntimeError(f"file URLs refused: {response.error_msg}")
        urls = response.file_urls[0]
        body, content_type = _multipart(name, data, mime)
        headers = {"Content-Type": content_type}
        if self.xsrf:
            headers.update({"X-Xsrftoken": self.xsrf, "Cookie": f"{XSRF_COOKIE}={self.xsrf}"})
        upload_url = urls.upload_url
        if not upload_url.startswith("http"):
            upload_url = self.base_url + upload_url
        status, _, _ = await asyncio.to_thread(_http, "PUT", upload_url, data=body, headers=headers,
                                               timeout=timeout)
        if status not in (200, 204):
            raise RuntimeError(f"upload: HTTP {status}")
        state = WidgetState(id=widget_id)
        state.file_uploader_state_value.uploaded_file_info.append(
            UploadedFileInfo(file_id=urls.file_id, name=name, size=len(data), file_urls=urls))
        self.states[widget_id] = state

    async def rerun(self, *, timeout: float, want_image: bool = True) -> RunResult:
        """Send every widget state and wait for the run to finish (and the watched image, when wanted).

        ``image_seconds`` counts from the send to the moment the new image's bytes have been fetched.
        """
        from streamlit.proto.BackMsg_pb2 import BackMsg

        back = BackMsg()
        state = back.rerun_script
        state.query_string = ""
        state.page_script_hash = self.page_hash
        state.page_name = "" if self.page_hash else self.page
        state.widget_states.widgets.extend(self.states.values())
        state.cached_message_hashes.extend(self._cached)
        self._run = run = RunResult()
        self.elements = {}  # what this run draws (a widget's id changes with its parameters)
        self._finished.clear()
        self._image_seen.clear()
        self._sent_at = time.perf_counter()
        await self._ws.send(back.SerializeToString())
        deadline = self._sent_at + timeout

        async def wait(event: asyncio.Event, what: str) -> bool:
            try:
                await asyncio.wait_for(event.wait(), max(0.01, deadline - time.perf_counter()))
                return True
            except TimeoutError:
                run.errors.append(f"timeout: {what} not within {timeout:g} s")
                return False

        finished = await wait(self._finished, "the run's end")
        if finished:  # the frontend forgets the states of widgets that are gone
            self.states = {key: value for key, value in self.states.items() if key in self.elements}
        if finished and want_image:
            if run.image_url is None:
                run.errors.append("the run finished without a new image")
            else:
                await wait(self._image_seen, "the image")
        return run
