"""fakecommon.py: the HTTP machinery shared by the strict fake Pinecone and
Milvus servers of the test suite.

Design
------
A fake is one ``FakeCore`` (state lock, fault list, request log, counters)
serving one or more ``Listener`` sockets on 127.0.0.1.  Each listener is a
threaded HTTP/1.1 server with keep-alive, so a client that reuses its
connection is served by one thread for its whole life and a test can count
TCP connections.  The provider module (pinecone_fake.py, milvus_fake.py)
subclasses ``FakeCore`` and implements ``handle(req)``, which turns a parsed
``Request`` into a ``Response``; everything else lives here:

* the control API under ``/_fake/...`` on every listener (faults, state,
  request log, stats), never logged, never faulted, never authenticated;
* requests carrying ``X-Fake-Internal: 1`` (the Perl test helper's own setup
  calls) run normally but are neither logged, faulted nor counted, so a test
  sees only what its client under test sent;
* scripted faults (latency, hang, drip, status, malformed, truncated,
  oversized, envelope_error, reset), each optionally limited to a path regex,
  a method and a number of requests;
* ``X-Fake-Handler-Us`` on every answer: the time the fake spent in its own
  handler, excluding deliberate fault delays, so a benchmark can subtract it;
* float32 helpers: both real services store float32, so stored vectors and
  scores are rounded to float32 and printed in their shortest form (0.1, not
  0.10000000149011612).

Only the Python 3 standard library and numpy (Debian: python3-numpy) are
used.
"""

import argparse
import base64
import json
import os
import re
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

FAULT_MODES = ('latency', 'hang', 'drip', 'status', 'malformed', 'truncated',
               'oversized', 'envelope_error', 'reset')

# Largest request body the fakes read at all (the real services have lower
# limits of their own, checked by the providers)
MAX_BODY_BYTES = 256 * 1024 * 1024

# Request bodies longer than this are shortened in the request log
LOG_BODY_LIMIT = 1024 * 1024

SECRET_HEADERS = ('api-key', 'authorization')


class ApiError(Exception):
    """A provider-level error: raised anywhere in a handler, turned into the
    provider's error body by ``FakeCore.error_response``."""

    def __init__(self, status, code, message, **extra):
        """Keep the HTTP status, the provider code and the message."""
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


class Request:
    """One parsed HTTP request, as handlers see it."""

    def __init__(self, method, path, query, headers, body, listener):
        """Parse the query string once; header names are lower-case."""
        self.method = method
        self.path = path
        self.query_string = query
        self.query = urllib.parse.parse_qs(query, keep_blank_values=True)
        self.headers = headers          # dict with lower-case names
        self.body = body                # bytes
        self.listener = listener

    def header(self, name, default=None):
        """A header by case-insensitive name."""
        return self.headers.get(name.lower(), default)


class Response:
    """What a handler answers: status, body bytes, extra headers."""

    def __init__(self, status, body=b'', content_type='application/json',
                 headers=None):
        """Text bodies are encoded as UTF-8."""
        self.status = status
        if isinstance(body, str):
            body = body.encode('utf-8')
        self.body = body
        self.content_type = content_type
        self.headers = dict(headers or {})


def json_response(status, obj, headers=None):
    """A JSON answer; NaN and infinities are refused as JSON forbids them."""
    return Response(status, dumps(obj), 'application/json', headers)


def dumps(obj):
    """Compact JSON as both services send it."""
    return json.dumps(obj, separators=(',', ':'), allow_nan=False)


def f32_array(values):
    """Round a list of numbers to float32 (what both services store)."""
    return np.asarray(values, dtype=np.float64).astype(np.float32)


def f32_out(arr):
    """Python floats that print as the shortest decimal of each float32, so a
    stored 0.1 comes back as 0.1 and parses to the same float32."""
    arr = np.asarray(arr, dtype=np.float32)
    if arr.size == 0:
        return []
    return arr.astype(str).astype(np.float64).tolist()


def f32_scalar(x):
    """One float32-rounded score in its shortest form."""
    return float(str(np.float32(x)))


def is_number(v):
    """JSON number (bool is an int subclass in Python and is not a number)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


NUMBER_TYPES = frozenset((int, float))


def all_numbers(values):
    """Every element a JSON number, as is_number says, but at C speed: a
    768-dimension vector took 80 us element by element, which made the
    fakes the bottleneck of the write benchmarks.  json.loads yields exact
    int, float and bool objects (no subclasses), and bool is its own type."""
    return set(map(type, values)) <= NUMBER_TYPES


class Fault:
    """One scripted fault; ``count`` None means until cleared."""

    def __init__(self, spec, seq):
        """Validate the mode and compile the path regex."""
        mode = spec.get('mode')
        if mode not in FAULT_MODES:
            raise ValueError('unknown fault mode %r' % (mode,))
        self.seq = seq
        self.mode = mode
        self.spec = dict(spec)
        self.path_re = re.compile(spec['path']) if spec.get('path') else None
        self.method = spec.get('method')
        self.index = spec.get('index')
        count = spec.get('count')
        self.remaining = int(count) if count is not None else None
        self.fired = 0
        self.released = threading.Event()
        # Whether the request is processed (state changed) before the fault
        # spoils the answer: by default only for faults that keep the answer
        # (always for faults that spoil a real answer, never for hang)
        if mode in ('latency', 'drip', 'truncated', 'oversized'):
            self.apply = True
        elif mode == 'hang':
            self.apply = False
        else:
            self.apply = bool(spec.get('apply', False))

    def matches(self, method, path, index=None):
        """Whether this fault fires for a request (and has firings left)."""
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.method and self.method.upper() != method:
            return False
        if self.path_re and not self.path_re.search(path):
            return False
        if self.index is not None and self.index != index:
            return False
        return True

    def describe(self):
        """The fault as GET /_fake/faults shows it."""
        d = dict(self.spec)
        d['id'] = self.seq
        d['remaining'] = self.remaining
        d['fired'] = self.fired
        return d


class Listener(ThreadingHTTPServer):
    """One listening socket on 127.0.0.1 with its role ('control', 'data',
    'milvus') and, for Pinecone data planes, the index it serves."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, core, role, port, index=None):
        """Bind 127.0.0.1:port (0: a free port) for one role."""
        self.core = core
        self.role = role
        self.index = index
        self.open_sockets = set()
        self.sock_lock = threading.Lock()
        super().__init__(('127.0.0.1', port), FakeHandler)
        self.port = self.server_address[1]
        self.thread = threading.Thread(target=self.serve_forever,
                                       kwargs={'poll_interval': 0.05},
                                       daemon=True)

    def start(self):
        """Serve in a daemon thread."""
        self.thread.start()

    def stop(self):
        """Stop accepting and drop every open connection: afterwards the
        port refuses connections, as a stopped server does."""
        self.shutdown()
        self.server_close()
        with self.sock_lock:
            socks = list(self.open_sockets)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def base_url(self):
        """The URL clients use: http or https, 127.0.0.1, the port."""
        scheme = 'https' if self.core.tls_context else 'http'
        return '%s://127.0.0.1:%d' % (scheme, self.port)


class FakeHandler(BaseHTTPRequestHandler):
    """Reads requests, applies faults, dispatches to the provider, writes
    answers; one instance per TCP connection."""

    protocol_version = 'HTTP/1.1'
    server_version = 'vectorpg-fake/1'
    sys_version = ''

    def setup(self):
        """Per connection: TCP_NODELAY, TLS handshake, a connection id."""
        core = self.server.core
        # Answers go out in one write; no Nagle delay behind the client's
        # delayed ACK
        try:
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        if core.tls_context is not None:
            self.request.settimeout(10)
            self.request = core.tls_context.wrap_socket(self.request,
                                                        server_side=True)
            self.request.settimeout(None)
        self.connection_id = core.new_connection()
        self.counted = False
        with self.server.sock_lock:
            self.server.open_sockets.add(self.request)
        super().setup()

    def finish(self):
        """Forget the socket once the connection ends."""
        try:
            super().finish()
        finally:
            with self.server.sock_lock:
                self.server.open_sockets.discard(self.request)

    def log_message(self, fmt, *args):
        """Access log on stderr only with --verbose."""
        if self.server.core.verbose:
            sys.stderr.write('[%s] %s\n' % (self.server.port, fmt % args))

    def do_GET(self):
        """Every method goes through dispatch (unknown ones are the provider's 404)."""
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def read_body(self):
        """Body by Content-Length or chunked transfer coding."""
        te = (self.headers.get('Transfer-Encoding') or '').lower()
        if 'chunked' in te:
            chunks = []
            total = 0
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b';')[0].strip() or b'0', 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b'\r\n', b'\n', b''):
                        pass
                    break
                total += size
                if total > MAX_BODY_BYTES:
                    raise ValueError('body too large')
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
            return b''.join(chunks)
        length = int(self.headers.get('Content-Length') or 0)
        if length > MAX_BODY_BYTES:
            raise ValueError('body too large')
        return self.rfile.read(length) if length > 0 else b''

    def dispatch(self):
        """One request: read it, serve the control API, apply faults, run the provider, answer."""
        core = self.server.core
        try:
            body = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        split = urllib.parse.urlsplit(self.path)
        path = split.path
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = Request(self.command, path, split.query, headers, body,
                      self.server)

        if path.startswith('/_fake/'):
            t0 = time.perf_counter()
            resp = core.control(req)
            self.write_response(resp, time.perf_counter() - t0)
            return

        internal = headers.get('x-fake-internal') == '1'
        fault = None
        if not internal:
            if not self.counted:
                self.counted = True
                core.count_connection(self.server.port)
            fault = core.take_fault(self.command, path, self.server.index)

        entry = None
        if not internal:
            entry = core.log_request(req, self.connection_id, fault)

        if fault is not None and fault.mode == 'hang':
            # Never answer: wait until the fault is cleared or the server
            # stops, then drop the connection without processing the request
            while not fault.released.wait(0.2):
                if core.stopping.is_set():
                    break
            self.abort_connection(reset=False)
            core.finish_log(entry, None, 0)
            return
        if fault is not None and fault.mode == 'latency':
            delay = float(fault.spec.get('delay_ms', 1000)) / 1000.0
            limit = core.server_timeout(req)
            if limit is not None and delay > limit:
                # The service gives up first (Milvus' Request-Timeout)
                time.sleep(limit)
                resp = core.timeout_response(req)
                core.finish_log(entry, resp.status, 0)
                self.write_response(resp, 0)
                return
            time.sleep(delay)

        t0 = time.perf_counter()
        resp = None
        if fault is None or fault.apply:
            resp = core.run_handler(req)
        elapsed = time.perf_counter() - t0
        if not internal:
            core.add_handler_time(elapsed)

        if fault is not None and fault.mode not in ('latency',):
            self.apply_fault(fault, req, resp, elapsed, entry)
            return
        core.finish_log(entry, resp.status, elapsed)
        self.write_response(resp, elapsed)

    def write_response(self, resp, elapsed, content_length=None, body=None):
        """Status line, headers and (unless told otherwise) the body."""
        self.send_response(resp.status)
        self.send_header('Content-Type', resp.content_type)
        self.send_header('Content-Length', str(len(resp.body)
                                               if content_length is None
                                               else content_length))
        self.send_header('X-Fake-Handler-Us', str(int(elapsed * 1e6)))
        self.send_header('X-Fake-Connection-Id', str(self.connection_id))
        for k, v in resp.headers.items():
            self.send_header(k, v)
        # Headers and body in a single write (end_headers would send the
        # headers on their own)
        self._headers_buffer.append(b'\r\n')
        if self.command != 'HEAD':
            self._headers_buffer.append(resp.body if body is None else body)
        self.flush_headers()
        self.wfile.flush()

    def abort_connection(self, reset):
        """Close without answering; with ``reset`` the peer sees a TCP RST."""
        self.close_connection = True
        try:
            if reset:
                raw = self.request
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                               struct.pack('ii', 1, 0))
            self.request.close()
        except OSError:
            pass

    def apply_fault(self, fault, req, resp, elapsed, entry):
        """Spoil the answer as the fault says."""
        core = self.server.core
        mode = fault.mode
        spec = fault.spec
        if mode == 'reset':
            core.finish_log(entry, None, elapsed)
            self.abort_connection(reset=True)
            return
        if mode == 'status':
            status = int(spec.get('status', 503))
            fresp = core.status_fault_response(req, status, spec)
            if spec.get('retry_after') is not None:
                fresp.headers['Retry-After'] = str(spec['retry_after'])
            core.finish_log(entry, status, elapsed)
            self.write_response(fresp, elapsed)
            return
        if mode == 'envelope_error':
            fresp = core.envelope_fault_response(req, spec)
            core.finish_log(entry, fresp.status, elapsed)
            self.write_response(fresp, elapsed)
            return
        if mode == 'malformed':
            fresp = Response(200, spec.get('body', '{"code":0,"data":[{"id":'),
                             'application/json')
            core.finish_log(entry, 200, elapsed)
            self.write_response(fresp, elapsed)
            return
        # The remaining modes spoil a real answer
        core.finish_log(entry, resp.status, elapsed)
        if mode == 'truncated':
            sent = resp.body[:len(resp.body) // 2]
            extra = int(spec.get('missing_bytes', 0)) or \
                max(1, len(resp.body) - len(sent))
            try:
                self.write_response(resp, elapsed,
                                    content_length=len(sent) + extra, body=sent)
            except OSError:
                pass
            self.abort_connection(reset=False)
            return
        if mode == 'drip':
            rate = max(1, int(spec.get('bytes_per_sec', 100)))
            self.close_connection = False
            self.write_response(resp, elapsed, body=b'')
            step = max(1, rate // 10)
            body = resp.body
            try:
                for i in range(0, len(body), step):
                    if core.stopping.is_set():
                        break
                    self.wfile.write(body[i:i + step])
                    self.wfile.flush()
                    time.sleep(step / float(rate))
            except OSError:
                self.close_connection = True
            return
        if mode == 'oversized':
            self.send_oversized(resp, int(spec.get('size', 64 * 1024 * 1024)),
                                elapsed)
            return

    def send_oversized(self, resp, size, elapsed):
        """The real answer padded to ``size`` bytes with an extra JSON member,
        streamed so that a huge body costs no memory."""
        body = resp.body.rstrip()
        if not body.endswith(b'}'):
            body = b'{}'
        head = body[:-1]
        sep = b',' if head.strip() not in (b'{',) else b''
        prefix = head + sep + b'"x_fake_padding":"'
        suffix = b'"}'
        pad = max(0, size - len(prefix) - len(suffix))
        try:
            self.write_response(resp, elapsed,
                                content_length=len(prefix) + pad + len(suffix),
                                body=b'')
            self.wfile.write(prefix)
            block = b'x' * 65536
            left = pad
            while left > 0:
                n = min(left, len(block))
                self.wfile.write(block[:n])
                left -= n
            self.wfile.write(suffix)
            self.wfile.flush()
        except OSError:
            self.close_connection = True


class FakeCore:
    """State shared by all listeners of one fake: lock, faults, log, stats.
    Providers subclass it and implement ``handle``, ``state_dump``,
    ``error_response`` and ``status_fault_response``."""

    provider = 'fake'

    def __init__(self, args):
        """Empty state; the TLS context when --tls-cert is given."""
        self.args = args
        self.verbose = args.verbose
        self.lock = threading.RLock()
        self.meta_lock = threading.Lock()
        self.stopping = threading.Event()
        self.faults = []
        self.fault_seq = 0
        self.log = []
        self.log_seq = 0
        self.log_enabled = True
        self.log_limit = args.log_limit
        self.listeners = []
        self.conn_seq = 0
        self.stats = self.fresh_stats()
        self.tls_context = None
        if args.tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(args.tls_cert, args.tls_key)
            self.tls_context = ctx

    @staticmethod
    def fresh_stats():
        """The counters of GET /_fake/stats, zeroed."""
        return {'connections': 0, 'connections_by_port': {},
                'connections_total': 0, 'requests': 0,
                'requests_by_path': {}, 'handler_us': 0, 'faults_fired': 0,
                'started': time.time()}

    # --- listeners -------------------------------------------------------

    def start_listener(self, role, port=0, index=None):
        """Open and start one more listener (Pinecone: one per index)."""
        lst = Listener(self, role, port, index)
        lst.start()
        with self.meta_lock:
            self.listeners.append(lst)
        return lst

    def stop_listener(self, lst):
        """Close a listener so that its port refuses connections."""
        with self.meta_lock:
            if lst in self.listeners:
                self.listeners.remove(lst)
        lst.stop()

    def stop_all(self):
        """Release hung requests and close every listener (server shutdown)."""
        self.stopping.set()
        with self.meta_lock:
            for f in self.faults:
                f.released.set()
            lsts = list(self.listeners)
        for lst in lsts:
            try:
                lst.stop()
            except Exception:
                pass

    # --- accounting ------------------------------------------------------

    def new_connection(self):
        """Number each TCP connection for the request log."""
        with self.meta_lock:
            self.conn_seq += 1
            self.stats['connections_total'] += 1
            return self.conn_seq

    def count_connection(self, port):
        """Count a connection once it carries a logged request."""
        with self.meta_lock:
            self.stats['connections'] += 1
            key = str(port)
            byport = self.stats['connections_by_port']
            byport[key] = byport.get(key, 0) + 1

    def add_handler_time(self, seconds):
        """Sum of handler time for the stats."""
        with self.meta_lock:
            self.stats['handler_us'] += int(seconds * 1e6)

    def take_fault(self, method, path, index=None):
        """The first fault matching a request, consuming one of its firings."""
        with self.meta_lock:
            for f in self.faults:
                if f.matches(method, path, index):
                    if f.remaining is not None:
                        f.remaining -= 1
                    f.fired += 1
                    self.stats['faults_fired'] += 1
                    return f
        return None

    def log_request(self, req, conn_id, fault):
        """Append a request to the log (secrets masked) and count it."""
        if not self.log_enabled:
            with self.meta_lock:
                self.stats['requests'] += 1
                rp = self.stats['requests_by_path']
                rp[req.path] = rp.get(req.path, 0) + 1
            return None
        headers = {}
        for k, v in req.headers.items():
            headers[k] = '***' if k in SECRET_HEADERS else v
        body = req.body
        logged = None
        if body:
            text = body[:LOG_BODY_LIMIT].decode('utf-8', 'replace')
            try:
                logged = json.loads(text) if len(body) <= LOG_BODY_LIMIT else text
            except ValueError:
                logged = text
        with self.meta_lock:
            self.stats['requests'] += 1
            rp = self.stats['requests_by_path']
            rp[req.path] = rp.get(req.path, 0) + 1
            if not self.log_enabled:
                return None
            self.log_seq += 1
            entry = {'seq': self.log_seq, 'time': time.time(),
                     'method': req.method, 'path': req.path,
                     'query': req.query_string,
                     'query_params': req.query, 'headers': headers,
                     'body': logged, 'body_bytes': len(body),
                     'port': req.listener.port, 'index': req.listener.index,
                     'connection': conn_id, 'status': None,
                     'handler_us': None,
                     'fault': fault.mode if fault else None}
            self.log.append(entry)
            if len(self.log) > self.log_limit:
                del self.log[:len(self.log) - self.log_limit]
        return entry

    def finish_log(self, entry, status, elapsed):
        """Record the status sent and the handler time in the log entry."""
        if entry is not None:
            entry['status'] = status
            entry['handler_us'] = int(elapsed * 1e6)

    # --- dispatch ----------------------------------------------------------

    def run_handler(self, req):
        """Call the provider, turning ApiError (and bugs) into error answers."""
        try:
            return self.handle(req)
        except ApiError as e:
            return self.error_response(req, e)
        except Exception as e:   # a bug in the fake: say so loudly
            import traceback
            traceback.print_exc()
            return self.error_response(
                req, ApiError(500, None, 'fake server bug: %s' % (e,)))

    def control(self, req):
        """The /_fake/... control API."""
        path = req.path
        try:
            body = json.loads(req.body) if req.body.strip() else {}
        except ValueError:
            return json_response(400, {'error': 'body is not JSON'})
        if path == '/_fake/fault' and req.method == 'POST':
            specs = body if isinstance(body, list) else [body]
            ids = []
            try:
                with self.meta_lock:
                    for spec in specs:
                        self.fault_seq += 1
                        f = Fault(spec, self.fault_seq)
                        self.faults.append(f)
                        ids.append(f.seq)
            except (ValueError, re.error, TypeError) as e:
                return json_response(400, {'error': str(e)})
            return json_response(200, {'ids': ids})
        if path == '/_fake/faults' and req.method == 'GET':
            with self.meta_lock:
                return json_response(200, [f.describe() for f in self.faults])
        if path == '/_fake/clear' and req.method == 'POST':
            with self.meta_lock:
                for f in self.faults:
                    f.released.set()
                self.faults = []
            return json_response(200, {})
        if path == '/_fake/state' and req.method == 'GET':
            with self.lock:
                return json_response(200, self.state_dump())
        if path == '/_fake/requests' and req.method == 'GET':
            with self.meta_lock:
                return json_response(200, self.log)
        if path == '/_fake/reset_log' and req.method == 'POST':
            with self.meta_lock:
                self.log = []
            return json_response(200, {})
        if path == '/_fake/stats' and req.method == 'GET':
            with self.meta_lock:
                s = dict(self.stats)
                s['uptime_s'] = time.time() - s.pop('started')
                s['listeners'] = [{'port': l.port, 'role': l.role,
                                   'index': l.index} for l in self.listeners]
                return json_response(200, s)
        if path == '/_fake/reset_stats' and req.method == 'POST':
            with self.meta_lock:
                self.stats = self.fresh_stats()
            return json_response(200, {})
        if path == '/_fake/config' and req.method == 'POST':
            with self.meta_lock:
                if 'log' in body:
                    self.log_enabled = bool(body['log'])
                if 'log_limit' in body:
                    self.log_limit = max(1, int(body['log_limit']))
                return json_response(200, {'log': self.log_enabled,
                                           'log_limit': self.log_limit})
        if path == '/_fake/shutdown' and req.method == 'POST':
            threading.Thread(target=self.shutdown_soon, daemon=True).start()
            return json_response(200, {})
        extra = self.control_extra(req, body)
        if extra is not None:
            return extra
        return json_response(404, {'error': 'unknown control path %s' % path})

    def control_extra(self, req, body):
        """Provider-specific control paths; None when not one of them."""
        return None

    def shutdown_soon(self):
        """POST /_fake/shutdown: answer first, then exit."""
        time.sleep(0.05)
        self.stop_all()
        os._exit(0)

    # --- provider hooks ----------------------------------------------------

    def handle(self, req):
        """Provider hook: one request to one Response."""
        raise NotImplementedError

    def state_dump(self):
        """Provider hook: the whole state for GET /_fake/state."""
        raise NotImplementedError

    def error_response(self, req, err):
        """Provider hook: an ApiError in the provider's error shape."""
        raise NotImplementedError

    def status_fault_response(self, req, status, spec):
        """Provider hook: the body of a scripted HTTP status."""
        raise NotImplementedError

    def server_timeout(self, req):
        """Seconds after which the service itself would time a request out
        (None: never); a latency fault longer than that ends in
        timeout_response instead."""
        return None

    def timeout_response(self, req):
        """Provider hook: the answer when the service itself times out."""
        raise NotImplementedError

    def envelope_fault_response(self, req, spec):
        """A Milvus-style HTTP 200 error envelope with the scripted code."""
        return json_response(200, {'code': int(spec.get('code', 65535)),
                                   'message': spec.get('message',
                                                       'scripted error')})


def parse_args(description, extra=None):
    """Command line shared by both fakes."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument('--port', type=int, default=0,
                    help='port of the main listener (0: ephemeral)')
    ap.add_argument('--port-file', help='write the chosen port here')
    ap.add_argument('--tls-cert', help='serve https with this certificate')
    ap.add_argument('--tls-key', help='private key of --tls-cert')
    ap.add_argument('--log-limit', type=int, default=100000,
                    help='keep at most this many requests in the log')
    ap.add_argument('--exit-with-parent', action='store_true',
                    help='stop when the parent process goes away (a killed '
                    'test must not leave its fake running)')
    ap.add_argument('--verbose', action='store_true')
    if extra:
        extra(ap)
    return ap.parse_args()


def serve(core, role):
    """Start the main listener, publish its port, serve until signalled."""
    lst = core.start_listener(role, core.args.port)
    if core.args.port_file:
        tmp = core.args.port_file + '.tmp'
        with open(tmp, 'w') as fh:
            fh.write('%d\n' % lst.port)
        os.rename(tmp, core.args.port_file)
    sys.stderr.write('%s fake listening on %s\n' % (core.provider,
                                                    lst.base_url()))
    sys.stderr.flush()
    done = threading.Event()

    def on_signal(signum, frame):
        """SIGTERM/SIGINT end the serving loop."""
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    parent = os.getppid()
    while not done.wait(0.5):
        if core.args.exit_with_parent and os.getppid() != parent:
            sys.stderr.write('%s fake: parent %d is gone\n'
                             % (core.provider, parent))
            break
    core.stop_all()
    sys.stderr.write('%s fake stopped\n' % core.provider)
    return 0


def basic_auth_pair(value):
    """user:password from an ``Authorization: Basic ...`` value, or None."""
    try:
        return base64.b64decode(value.strip(), validate=True).decode('utf-8')
    except (ValueError, UnicodeDecodeError):
        return None
