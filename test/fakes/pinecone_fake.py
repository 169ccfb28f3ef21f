#!/usr/bin/python3
"""pinecone_fake.py: a strict fake of Pinecone's REST API (control plane and
data plane) for the test suite, following /work/shared/specs/pinecone-rest.md.

Layout: the main listener (``--port``) is the control plane (``/indexes``).
Creating an index starts one more listener on an ephemeral port of
127.0.0.1; that is the index's data-plane host, returned as
``http://127.0.0.1:<port>`` (``https://`` with --tls-cert).  Deleting the
index stops its listener, so its port then refuses connections.  The control
API ``/_fake/...`` answers on every listener.

What is enforced (rules marked [verified]/[doc] in the spec): ``Api-Key`` on
every request (plain-text 401), ``X-Pinecone-Api-Version`` one of the
supported versions (400 rpcStatus otherwise), every limit of spec section 6,
the request shapes of each endpoint, the filter language with its type rules,
metadata value types, and the three error body shapes (rpcStatus on the data
plane, ``{"error":{...},"status":N}`` on the control plane, plain text from
the "gateway").  Lenient, as the spec marks them [inferred]: unknown request
members are ignored, updating or deleting a missing id succeeds, ``$ne`` and
``$nin`` match records lacking the field.

Scores follow spec section 4 exactly: cosine similarity and dot product
descending, squared euclidean distance ascending, computed in float64 over
the stored float32 values and reported rounded to float32; ties are broken by
id so the order is deterministic.
"""

import base64
import json
import re
import sys
import threading

import numpy as np

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, __import__('os').path.dirname(__file__))
from fakecommon import (all_numbers, ApiError, FakeCore, Response, dumps,
                        f32_array,
                        f32_out, f32_scalar, is_number, json_response,
                        parse_args, serve)

API_VERSIONS = ('2025-04', '2025-10', '2026-01.alpha', '2026-04', '2026-07')
NEW_SHAPE_VERSIONS = ('2026-07',)

MAX_UPSERT_VECTORS = 1000
MAX_REQUEST_BYTES = 2 * 1024 * 1024
MAX_METADATA_BYTES = 40 * 1024
MAX_ID_LEN = 512
MAX_NAMESPACE_LEN = 512
MAX_DIMENSION = 20000
MAX_SPARSE = 2048
MAX_TOP_K = 10000
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
MAX_FETCH_IDS = 1000
MAX_DELETE_IDS = 1000
MAX_LIST_LIMIT = 100
MAX_IN_VALUES = 10000
MAX_TAGS = 20
METRICS = ('cosine', 'euclidean', 'dotproduct')
INDEX_NAME_RE = re.compile(r'^[a-z0-9]([a-z0-9-]{0,43}[a-z0-9])?$')

# gRPC status codes used in rpcStatus bodies
INVALID_ARGUMENT = 3
NOT_FOUND = 5
ALREADY_EXISTS = 6
PERMISSION_DENIED = 7
RESOURCE_EXHAUSTED = 8
INTERNAL = 13
UNAVAILABLE = 14
UNAUTHENTICATED = 16

HTTP_TO_GRPC = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 412: 9, 429: 8,
                500: 13, 501: 12, 502: 14, 503: 14, 504: 4}
HTTP_TO_CODE = {400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED',
                402: 'PAYMENT_REQUIRED', 403: 'FORBIDDEN', 404: 'NOT_FOUND',
                409: 'ALREADY_EXISTS', 412: 'FAILED_PRECONDITION',
                413: 'PAYLOAD_TOO_LARGE', 422: 'UNPROCESSABLE_ENTITY',
                429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL',
                501: 'UNIMPLEMENTED', 502: 'UNAVAILABLE',
                503: 'SERVICE_UNAVAILABLE', 504: 'DEADLINE_EXCEEDED'}

FILTER_OPS = ('$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin',
              '$exists')


def bad(message):
    """A data-plane INVALID_ARGUMENT (HTTP 400, rpcStatus code 3)."""
    return ApiError(400, INVALID_ARGUMENT, message)


def control_error(status, message):
    """A control-plane error; the code string follows the HTTP status."""
    return ApiError(status, HTTP_TO_CODE.get(status, 'UNKNOWN'), message)


def check_ascii_id(value, what, max_len=MAX_ID_LEN, allow_empty=False):
    """Record ids, prefixes and namespaces: ASCII without NUL, bounded."""
    if not isinstance(value, str):
        raise bad('%s must be a string' % what)
    if not value and not allow_empty:
        raise bad('%s must not be empty' % what)
    if len(value) > max_len:
        raise bad('%s exceeds the maximum length of %d characters'
                  % (what, max_len))
    if not value.isascii() or '\0' in value:
        raise bad('%s must be ASCII without NUL characters' % what)


# --- filters ------------------------------------------------------------------

def check_filter(flt, top=True):
    """Validate a metadata filter (spec 2.9); raise 400 on any violation."""
    if not isinstance(flt, dict):
        raise bad('filter must be a JSON object')
    for key, cond in flt.items():
        if key in ('$and', '$or'):
            if not isinstance(cond, list) or not cond:
                raise bad('%s requires a non-empty array of filters' % key)
            for sub in cond:
                check_filter(sub, top=False)
            continue
        if key.startswith('$'):
            raise bad('unsupported filter operator at top level: %s' % key)
        if isinstance(cond, dict):
            if not cond:
                raise bad('filter condition for field %s is empty' % key)
            for op, operand in cond.items():
                check_operator(key, op, operand)
        else:
            check_operator(key, '$eq', cond)


def check_operator(field, op, operand):
    """Operand types per operator, as the spec's table lists them."""
    if op not in FILTER_OPS:
        raise bad('unsupported filter operator %s for field %s' % (op, field))
    if op in ('$eq', '$ne'):
        if not (isinstance(operand, (str, bool)) or is_number(operand)):
            raise bad('%s operand for field %s must be a number, string or '
                      'boolean' % (op, field))
    elif op in ('$gt', '$gte', '$lt', '$lte'):
        if not is_number(operand):
            raise bad('%s operand for field %s must be a number'
                      % (op, field))
    elif op in ('$in', '$nin'):
        if not isinstance(operand, list):
            raise bad('%s operand for field %s must be an array'
                      % (op, field))
        if len(operand) > MAX_IN_VALUES:
            raise bad('%s for field %s has more than %d values'
                      % (op, field, MAX_IN_VALUES))
        for v in operand:
            if not (isinstance(v, str) or is_number(v)):
                raise bad('%s values for field %s must be strings or numbers'
                          % (op, field))
    elif op == '$exists':
        if not isinstance(operand, bool):
            raise bad('$exists operand for field %s must be a boolean'
                      % field)


def same_value(a, b):
    """Type-strict equality: booleans never equal numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_number(a) and is_number(b):
        return float(a) == float(b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return False


def match_op(meta, field, op, operand):
    """One operator against one record's metadata."""
    present = field in meta
    value = meta.get(field)
    if op == '$exists':
        return present == operand
    values = value if isinstance(value, list) else [value]
    if op == '$eq':
        return present and any(same_value(v, operand) for v in values)
    if op == '$ne':
        return not present or not any(same_value(v, operand) for v in values)
    if op == '$in':
        return present and any(same_value(v, o) for v in values
                               for o in operand)
    if op == '$nin':
        return not present or not any(same_value(v, o) for v in values
                                      for o in operand)
    if not present or not is_number(value):
        return False
    x = float(value)
    y = float(operand)
    return {'$gt': x > y, '$gte': x >= y, '$lt': x < y, '$lte': x <= y}[op]


def match_filter(meta, flt):
    """Whether a record's metadata satisfies a validated filter."""
    for key, cond in flt.items():
        if key == '$and':
            if not all(match_filter(meta, sub) for sub in cond):
                return False
        elif key == '$or':
            if not any(match_filter(meta, sub) for sub in cond):
                return False
        elif isinstance(cond, dict):
            for op, operand in cond.items():
                if not match_op(meta, key, op, operand):
                    return False
        elif not match_op(meta, key, '$eq', cond):
            return False
    return True


# --- records ------------------------------------------------------------------

class Record:
    """One stored vector: id, float32 dense values, sparse values, metadata."""

    __slots__ = ('id', 'values', 'sparse', 'metadata', '_out')

    def __init__(self, rid, values, sparse, metadata):
        """Values are float32 arrays; the printable form is made lazily."""
        self.id = rid
        self.values = values          # np.float32 array or None
        self.sparse = sparse          # (indices list, float32 array) or None
        self.metadata = metadata      # dict or None
        self._out = None

    def values_out(self):
        """Dense values as JSON numbers in shortest float32 form (cached)."""
        if self.values is None:
            return []
        if self._out is None:
            self._out = f32_out(self.values)
        return self._out

    def sparse_out(self):
        """Sparse values as {indices, values}, or None."""
        if self.sparse is None:
            return None
        return {'indices': list(self.sparse[0]),
                'values': f32_out(self.sparse[1])}

    def as_vector(self):
        """The record as fetch returns it."""
        d = {'id': self.id, 'values': self.values_out()}
        if self.sparse is not None:
            d['sparseValues'] = self.sparse_out()
        if self.metadata:
            d['metadata'] = self.metadata
        return d


class Namespace:
    """Records of one namespace plus a cached matrix for brute force."""

    def __init__(self):
        """No records, no cached matrix."""
        self.records = {}
        self._matrix = None

    def invalidate(self):
        """Drop the cached matrix after a write."""
        self._matrix = None

    def matrix(self, dim):
        """(ids, float64 matrix) of the records with dense values."""
        if self._matrix is None:
            ids = sorted(r for r, rec in self.records.items()
                         if rec.values is not None)
            if ids:
                m = np.vstack([self.records[i].values for i in ids]) \
                    .astype(np.float64)
            else:
                m = np.zeros((0, dim))
            self._matrix = (ids, m)
        return self._matrix


class Index:
    """One index: its model and namespaces; served by its own listener."""

    def __init__(self, name, dimension, metric, vector_type, body, version):
        """The index model from a create body of either API version."""
        self.name = name
        self.dimension = dimension
        self.metric = metric
        self.vector_type = vector_type
        self.deletion_protection = body.get('deletion_protection', 'disabled')
        self.tags = body.get('tags')
        dep = body.get('deployment') or {}
        spec = (body.get('spec') or {}).get('serverless') or {}
        self.cloud = dep.get('cloud') or spec.get('cloud') or 'aws'
        self.region = dep.get('region') or spec.get('region') or 'us-east-1'
        self.namespaces = {}
        self.listener = None
        self.created_version = version

    def ns(self, name, create=False):
        """A namespace by (normalised) name, created on demand for writes."""
        if name in self.namespaces:
            return self.namespaces[name]
        if create:
            self.namespaces[name] = Namespace()
            return self.namespaces[name]
        return None

    def model(self, version, ready=True):
        """The IndexModel in the shape of the requested API version."""
        status = {'ready': True, 'state': 'Ready'} if ready else \
            {'ready': False, 'state': 'Initializing'}
        host = self.listener.base_url() if self.listener else None
        if version in NEW_SHAPE_VERSIONS:
            fields = {}
            if self.vector_type == 'dense':
                fields['_values'] = {'type': 'dense_vector',
                                     'dimension': self.dimension,
                                     'metric': self.metric}
            fields['_sparse_values'] = {'type': 'sparse_vector'}
            if self.vector_type == 'sparse':
                fields['_sparse_values']['metric'] = self.metric
            return {'name': self.name, 'host': host, 'status': status,
                    'deployment': {'deployment_type': 'managed',
                                   'cloud': self.cloud,
                                   'region': self.region},
                    'schema': {'fields': fields},
                    'read_capacity': {'mode': 'OnDemand',
                                      'status': {'state': 'Ready'}},
                    'deletion_protection': self.deletion_protection,
                    'tags': self.tags}
        m = {'name': self.name, 'metric': self.metric, 'host': host,
             'spec': {'serverless': {'cloud': self.cloud,
                                     'region': self.region}},
             'status': status, 'vector_type': self.vector_type,
             'deletion_protection': self.deletion_protection,
             'tags': self.tags}
        if self.dimension is not None:
            m['dimension'] = self.dimension
        return m


def ns_key(name):
    """'' and '__default__' (and absent) are the same namespace."""
    if name is None or name == '__default__':
        return ''
    return name


class PineconeFake(FakeCore):
    """The fake: control plane on the main listener, one listener per index."""

    provider = 'pinecone'

    def __init__(self, args):
        """No indexes yet."""
        super().__init__(args)
        self.indexes = {}
        self.request_seq = 0

    # --- error shapes -----------------------------------------------------

    def error_response(self, req, err):
        """rpcStatus on the data plane, the error object on the control plane, plain text for 401."""
        if err.status == 401:
            return Response(401, 'Unauthorized', 'text/plain')
        if req.listener.role == 'data':
            code = err.code if isinstance(err.code, int) else \
                HTTP_TO_GRPC.get(err.status, 2)
            return json_response(err.status, {'code': code,
                                              'message': err.message,
                                              'details': []})
        code = err.code if isinstance(err.code, str) else \
            HTTP_TO_CODE.get(err.status, 'UNKNOWN')
        return json_response(err.status, {'error': {'code': code,
                                                    'message': err.message},
                                          'status': err.status})

    def status_fault_response(self, req, status, spec):
        """A scripted status in the body shape Pinecone uses for it."""
        msg = spec.get('message', 'scripted fault: HTTP %d' % status)
        if status == 401 or spec.get('shape') == 'text':
            return Response(status, 'Unauthorized' if status == 401 else msg,
                            'text/plain')
        return self.error_response(req, ApiError(status, None, msg))

    # --- dispatch ------------------------------------------------------------

    def run_handler(self, req):
        """Every answer carries a request id, as Pinecone's do."""
        resp = super().run_handler(req)
        with self.meta_lock:
            self.request_seq += 1
            resp.headers['x-pinecone-request-id'] = 'fake-%d' % \
                self.request_seq
        return resp

    def handle(self, req):
        """Authentication and version header first (gateway), then the plane of the listener."""
        key = req.header('api-key')
        if not key or (self.args.api_key is not None
                       and key != self.args.api_key):
            raise ApiError(401, None, 'Unauthorized')
        version = req.header('x-pinecone-api-version')
        if version is None:
            raise ApiError(400, INVALID_ARGUMENT if req.listener.role == 'data'
                           else 'INVALID_ARGUMENT',
                           'missing X-Pinecone-Api-Version header')
        if version not in API_VERSIONS:
            raise ApiError(400, INVALID_ARGUMENT if req.listener.role == 'data'
                           else 'INVALID_ARGUMENT',
                           'unsupported API version %s' % version)
        with self.lock:
            if req.listener.role == 'data':
                return self.data_plane(req, version)
            return self.control_plane(req, version)

    def json_body(self, req, required=True, control=False):
        """The request body as a JSON object."""
        if not req.body.strip():
            if required:
                raise (control_error(400, 'request body is required')
                       if control else bad('request body is required'))
            return {}
        try:
            body = json.loads(req.body)
        except ValueError as e:
            raise (control_error(400, 'invalid JSON body: %s' % e)
                   if control else bad('invalid JSON body: %s' % e))
        if not isinstance(body, dict):
            raise (control_error(400, 'request body must be a JSON object')
                   if control else bad('request body must be a JSON object'))
        return body

    # --- control plane ----------------------------------------------------------

    def control_plane(self, req, version):
        """Routes of the control plane: /indexes and /indexes/{name}."""
        path = req.path
        if path == '/indexes':
            if req.method == 'GET':
                return json_response(200, {'indexes': [
                    self.indexes[n].model(version)
                    for n in sorted(self.indexes)]})
            if req.method == 'POST':
                return self.create_index(req, version)
        m = re.match(r'^/indexes/([^/]+)$', path)
        if m:
            name = m.group(1)
            idx = self.indexes.get(name)
            if req.method in ('GET', 'DELETE', 'PATCH') and idx is None:
                raise control_error(404, 'Index %s not found.' % name)
            if req.method == 'GET':
                return json_response(200, idx.model(version))
            if req.method == 'DELETE':
                if idx.deletion_protection == 'enabled':
                    raise control_error(403, 'Deletion protection is enabled '
                                        'for index %s.' % name)
                del self.indexes[name]
                self.stop_listener(idx.listener)
                return Response(202, b'', 'text/plain')
            if req.method == 'PATCH':
                body = self.json_body(req, control=True)
                dp = body.get('deletion_protection')
                if dp is not None:
                    if dp not in ('enabled', 'disabled'):
                        raise control_error(400, 'deletion_protection must '
                                            'be enabled or disabled')
                    idx.deletion_protection = dp
                if 'tags' in body:
                    tags = body['tags']
                    if tags is not None and not isinstance(tags, dict):
                        raise control_error(400, 'tags must be an object')
                    merged = dict(idx.tags or {})
                    for k, v in (tags or {}).items():
                        if v == '' or v is None:
                            merged.pop(k, None)
                        else:
                            merged[k] = v
                    if len(merged) > MAX_TAGS:
                        raise control_error(400, 'too many tags')
                    idx.tags = merged or None
                return json_response(200, idx.model(version))
        raise control_error(404, 'Not found: %s %s' % (req.method, path))

    def create_index(self, req, version):
        """POST /indexes in the 2026-07 schema form or the older dimension/metric/spec form."""
        body = self.json_body(req, control=True)
        name = body.get('name')
        if name is None and version in NEW_SHAPE_VERSIONS:
            # 2026-07 makes the name optional: the server picks one
            n = 1
            while 'index-%d' % n in self.indexes:
                n += 1
            name = 'index-%d' % n
        if not isinstance(name, str) or not INDEX_NAME_RE.match(name):
            raise control_error(400, 'Index name must be 1 to 45 characters '
                                'of lower-case letters, digits and hyphens, '
                                'starting and ending with a letter or digit')
        if version in NEW_SHAPE_VERSIONS:
            schema = body.get('schema')
            if not isinstance(schema, dict) or \
                    not isinstance(schema.get('fields'), dict):
                raise control_error(422, 'Failed to deserialize the JSON '
                                    'body: missing field `schema.fields`')
            fields = schema['fields']
            extra = [f for f in fields if f not in ('_values',
                                                    '_sparse_values')]
            if extra:
                raise control_error(400, 'document indexes (fields %s) are '
                                    'not supported by this fake'
                                    % ', '.join(sorted(extra)))
            dense = fields.get('_values')
            sparse = fields.get('_sparse_values')
            if dense is not None:
                if not isinstance(dense, dict) or \
                        dense.get('type') != 'dense_vector':
                    raise control_error(400, '_values must have type '
                                        'dense_vector')
                dimension = dense.get('dimension')
                metric = dense.get('metric', 'cosine')
                vector_type = 'dense'
            elif sparse is not None:
                if not isinstance(sparse, dict) or \
                        sparse.get('type') != 'sparse_vector':
                    raise control_error(400, '_sparse_values must have type '
                                        'sparse_vector')
                dimension = None
                metric = sparse.get('metric', 'dotproduct')
                vector_type = 'sparse'
            else:
                raise control_error(400, 'schema.fields must declare _values '
                                    'or _sparse_values')
            dep = body.get('deployment')
            if dep is not None:
                if not isinstance(dep, dict) or \
                        dep.get('deployment_type', 'managed') not in \
                        ('managed', 'byoc'):
                    raise control_error(400, 'deployment_type must be '
                                        'managed or byoc')
        else:
            if 'spec' not in body:
                raise control_error(422, 'Failed to deserialize the JSON '
                                    'body: missing field `spec`')
            vector_type = body.get('vector_type', 'dense')
            if vector_type not in ('dense', 'sparse'):
                raise control_error(400, 'vector_type must be dense or sparse')
            dimension = body.get('dimension')
            if vector_type == 'dense' and 'metric' not in body:
                raise control_error(422, 'Failed to deserialize the JSON '
                                    'body: missing field `metric`')
            metric = body.get('metric', 'dotproduct')
            if vector_type == 'sparse':
                dimension = None
        if vector_type == 'dense':
            if not isinstance(dimension, int) or isinstance(dimension, bool) \
                    or not 1 <= dimension <= MAX_DIMENSION:
                raise control_error(400, 'dimension must be an integer from '
                                    '1 to %d' % MAX_DIMENSION)
        if metric not in METRICS:
            raise control_error(400, 'metric must be one of cosine, '
                                'euclidean, dotproduct')
        if vector_type == 'sparse' and metric != 'dotproduct':
            raise control_error(400, 'sparse indexes must use the '
                                'dotproduct metric')
        dp = body.get('deletion_protection', 'disabled')
        if dp not in ('enabled', 'disabled'):
            raise control_error(400, 'deletion_protection must be enabled '
                                'or disabled')
        tags = body.get('tags')
        if tags is not None and (not isinstance(tags, dict)
                                 or len(tags) > MAX_TAGS):
            raise control_error(400, 'tags must be an object with at most '
                                '%d entries' % MAX_TAGS)
        if name in self.indexes:
            raise control_error(409, 'Resource %s already exists' % name)
        idx = Index(name, dimension, metric, vector_type, body, version)
        idx.listener = self.start_listener('data', 0, index=name)
        self.indexes[name] = idx
        return json_response(201, idx.model(version, ready=False))

    # --- data plane ---------------------------------------------------------------

    def data_plane(self, req, version):
        """Routes of an index host."""
        idx = self.indexes.get(req.listener.index)
        if idx is None or idx.listener is not req.listener:
            raise ApiError(404, NOT_FOUND, 'index not found')
        path = req.path
        routes = {('POST', '/vectors/upsert'): self.upsert,
                  ('POST', '/query'): self.query,
                  ('GET', '/vectors/fetch'): self.fetch,
                  ('POST', '/vectors/update'): self.update,
                  ('POST', '/vectors/delete'): self.delete,
                  ('GET', '/vectors/list'): self.list_ids,
                  ('POST', '/describe_index_stats'): self.stats_call,
                  ('POST', '/vectors/fetch_by_metadata'):
                      self.fetch_by_metadata}
        fn = routes.get((req.method, path))
        if fn is None:
            raise ApiError(404, NOT_FOUND, 'Not found: %s %s'
                           % (req.method, path))
        return fn(req, idx)

    def body_namespace(self, body):
        """The namespace member of a body, validated and normalised."""
        ns = body.get('namespace')
        if ns is not None:
            check_ascii_id(ns, 'namespace', MAX_NAMESPACE_LEN,
                           allow_empty=True)
        return ns_key(ns)

    def query_namespace(self, req):
        """The namespace query parameter, validated and normalised."""
        vals = req.query.get('namespace')
        ns = vals[-1] if vals else None
        if ns is not None:
            check_ascii_id(ns, 'namespace', MAX_NAMESPACE_LEN,
                           allow_empty=True)
        return ns_key(ns)

    def check_dense(self, idx, values, what='vector'):
        """Dense values: numbers, the index dimension, finite in float32."""
        if not isinstance(values, list) or \
                not all_numbers(values):
            raise bad('%s values must be an array of numbers' % what)
        if idx.vector_type != 'dense':
            raise bad('Dense vectors are not supported by sparse index %s'
                      % idx.name)
        if len(values) != idx.dimension:
            raise bad('Vector dimension %d does not match the dimension of '
                      'the index %d' % (len(values), idx.dimension))
        arr = f32_array(values)
        if not np.all(np.isfinite(arr)):
            raise bad('%s values must be finite float32 numbers' % what)
        return arr

    def check_sparse(self, sv, what='sparseValues'):
        """Sparse values: equal-length arrays of 1-2048 unique uint32 indices and numbers."""
        if not isinstance(sv, dict) or \
                not isinstance(sv.get('indices'), list) or \
                not isinstance(sv.get('values'), list):
            raise bad('%s must have indices and values arrays' % what)
        ind, vals = sv['indices'], sv['values']
        if len(ind) != len(vals):
            raise bad('%s indices and values must have the same length'
                      % what)
        if not 1 <= len(ind) <= MAX_SPARSE:
            raise bad('%s must have 1 to %d entries' % (what, MAX_SPARSE))
        for i in ind:
            if not isinstance(i, int) or isinstance(i, bool) or \
                    not 0 <= i <= 4294967295:
                raise bad('%s indices must be integers from 0 to 4294967295'
                          % what)
        if len(set(ind)) != len(ind):
            raise bad('%s indices must be unique' % what)
        if not all_numbers(vals):
            raise bad('%s values must be numbers' % what)
        return (list(ind), f32_array(vals))

    def check_metadata(self, md, what='metadata'):
        """Validate metadata (spec 2.9) and return it as stored: numbers
        become 64-bit floats, as Pinecone stores them (an integer above 2^53
        loses precision there too); integral ones print without a fraction."""
        if not isinstance(md, dict):
            raise bad('%s must be a JSON object' % what)
        md = dict(md)
        for k, v in md.items():
            if k.startswith('$'):
                raise bad('metadata key %s must not start with $' % k)
            if is_number(v):
                try:
                    f = float(v)
                except OverflowError:
                    raise bad('metadata value for %s is out of range' % k)
                if f != f or f in (float('inf'), float('-inf')):
                    raise bad('metadata value for %s is not a number' % k)
                md[k] = int(f) if f.is_integer() and abs(f) < 2.0 ** 63 else f
                continue
            if isinstance(v, (str, bool)):
                continue
            if isinstance(v, list) and all(isinstance(x, str) for x in v):
                continue
            raise bad('Metadata value for field %s must be a string, number, '
                      'boolean or list of strings' % k)
        size = len(json.dumps(md, separators=(',', ':')).encode('utf-8'))
        if size > MAX_METADATA_BYTES:
            raise bad('Metadata size is %d bytes, which exceeds the limit of '
                      '%d bytes per vector' % (size, MAX_METADATA_BYTES))
        return md

    def upsert(self, req, idx):
        """POST /vectors/upsert with every limit of spec 2.1."""
        if len(req.body) > MAX_REQUEST_BYTES:
            raise bad('Request size %d bytes exceeds the maximum supported '
                      'size of %d bytes' % (len(req.body), MAX_REQUEST_BYTES))
        body = self.json_body(req)
        vectors = body.get('vectors')
        if not isinstance(vectors, list) or not vectors:
            raise bad('vectors is required and must be a non-empty array')
        if len(vectors) > MAX_UPSERT_VECTORS:
            raise bad('upsert accepts at most %d vectors, got %d'
                      % (MAX_UPSERT_VECTORS, len(vectors)))
        ns = self.body_namespace(body)
        recs = []
        for v in vectors:
            if not isinstance(v, dict):
                raise bad('each vector must be an object')
            check_ascii_id(v.get('id'), 'vector id')
            values = v.get('values')
            sparse = v.get('sparseValues')
            if values is None and sparse is None:
                raise bad('vector %s must have values or sparseValues'
                          % v['id'])
            arr = None
            if values is not None:
                if idx.vector_type == 'sparse' and values == []:
                    values = None
                else:
                    arr = self.check_dense(idx, values)
                    if np.all(np.abs(arr) < 1e-8):
                        raise bad('Dense vector %s must contain at least one '
                                  'non-zero value' % v['id'])
            elif idx.vector_type == 'dense':
                raise bad('vector %s: dense index requires values' % v['id'])
            sp = None
            if sparse is not None:
                if idx.metric != 'dotproduct':
                    raise bad('Sparse values are supported only for indexes '
                              'with the dotproduct metric')
                sp = self.check_sparse(sparse)
            md = v.get('metadata')
            if md is not None:
                md = self.check_metadata(md)
            recs.append(Record(v['id'], arr, sp, md or None))
        space = idx.ns(ns, create=True)
        for r in recs:
            space.records[r.id] = r
        space.invalidate()
        return json_response(200, {'upsertedCount': len(recs)})

    def scores(self, idx, space, vec, sparse):
        """(ids, scores) of every record against a query, unsorted."""
        if sparse is None:
            # Dense only: the cached matrix holds exactly the scorable records
            dids, m = space.matrix(idx.dimension)
            if not dids:
                return [], np.zeros(0)
            return dids, self.dense_scores(idx.metric, m, vec)
        ids = sorted(space.records)
        total = np.zeros(len(ids))
        if vec is not None:
            dids, m = space.matrix(idx.dimension)
            pos = {r: i for i, r in enumerate(ids)}
            part = self.dense_scores(idx.metric, m, vec) if dids \
                else np.zeros(0)
            for j, r in enumerate(dids):
                total[pos[r]] += part[j]
        if sparse is not None:
            qmap = dict(zip(sparse[0], sparse[1].astype(np.float64)))
            for j, r in enumerate(ids):
                rec = space.records[r]
                if rec.sparse is not None:
                    total[j] += sum(qmap.get(i, 0.0) * float(x) for i, x in
                                    zip(rec.sparse[0], rec.sparse[1]))
        return ids, total

    @staticmethod
    def dense_scores(metric, m, vec):
        """Spec section 4: squared euclidean distance, dot product or cosine
        similarity of every row of m against vec, in float64."""
        q = vec.astype(np.float64)
        if metric == 'euclidean':
            return ((m - q) ** 2).sum(axis=1)
        if metric == 'dotproduct':
            return m @ q
        norms = np.linalg.norm(m, axis=1) * np.linalg.norm(q)
        with np.errstate(divide='ignore', invalid='ignore'):
            return np.where(norms > 0, (m @ q) / norms, 0.0)

    def query(self, req, idx):
        """POST /query: one query source, filter, top K by the metric, include flags, 4 MB cap."""
        body = self.json_body(req)
        top_k = body.get('topK')
        if top_k is None:
            raise bad('topK is required')
        if not isinstance(top_k, int) or isinstance(top_k, bool) or \
                not 1 <= top_k <= MAX_TOP_K:
            raise bad('topK must be an integer from 1 to %d' % MAX_TOP_K)
        ns = self.body_namespace(body)
        vec = body.get('vector')
        sparse = body.get('sparseVector')
        qid = body.get('id')
        if vec is not None and len(vec) == 0 and idx.vector_type == 'sparse':
            vec = None
        sources = [s for s in (vec, sparse, qid) if s is not None]
        if not sources:
            raise bad('exactly one of vector, sparseVector or id is required')
        if qid is not None and len(sources) > 1:
            raise bad('id cannot be combined with vector or sparseVector')
        if vec is not None and sparse is not None and \
                idx.metric != 'dotproduct':
            raise bad('hybrid queries require an index with the dotproduct '
                      'metric')
        flt = body.get('filter')
        if flt is not None:
            check_filter(flt)
        for flag in ('includeValues', 'includeMetadata'):
            if flag in body and not isinstance(body[flag], bool):
                raise bad('%s must be a boolean' % flag)
        inc_values = body.get('includeValues', False)
        inc_meta = body.get('includeMetadata', False)
        qvec = self.check_dense(idx, vec) if vec is not None else None
        qsparse = None
        if sparse is not None:
            if idx.metric != 'dotproduct':
                raise bad('sparse queries require the dotproduct metric')
            qsparse = self.check_sparse(sparse, 'sparseVector')
        space = idx.ns(ns)
        matches = []
        if qid is not None:
            check_ascii_id(qid, 'id')
            rec = space.records.get(qid) if space else None
            if rec is None:
                space = None
            else:
                qvec, qsparse = rec.values, rec.sparse
        if space is not None and space.records:
            ids, sc = self.scores(idx, space, qvec, qsparse)
            sc32 = np.asarray(sc, dtype=np.float32).astype(np.float64)
            if flt:
                keep = [j for j, r in enumerate(ids)
                        if match_filter(space.records[r].metadata or {}, flt)]
            else:
                keep = range(len(ids))
            # Best first by the float32 score, ties by id
            sign = 1.0 if idx.metric == 'euclidean' else -1.0
            keep = np.asarray(list(keep), dtype=np.int64)
            cand = []
            if len(keep):
                order = np.lexsort((np.asarray(ids, dtype=object)[keep]
                                    .astype(str), sign * sc32[keep]))
                cand = [(sc32[keep[o]], ids[keep[o]])
                        for o in order[:top_k]]
            for s, r in cand[:top_k]:
                rec = space.records[r]
                m = {'id': r, 'score': f32_scalar(s),
                     'values': rec.values_out() if inc_values else []}
                if inc_values and rec.sparse is not None:
                    m['sparseValues'] = rec.sparse_out()
                if inc_meta and rec.metadata:
                    m['metadata'] = rec.metadata
                matches.append(m)
        out = {'matches': matches, 'namespace': ns,
               'usage': {'readUnits': max(1, len(matches) // 10 + 1)}}
        text = dumps(out)
        if len(text) > MAX_RESPONSE_BYTES:
            raise bad('Response size exceeds the 4MB limit; lower topK or '
                      'do not include values or metadata')
        return Response(200, text)

    def fetch(self, req, idx):
        """GET /vectors/fetch: present ids only."""
        ids = req.query.get('ids')
        if not ids:
            raise bad('ids is required')
        if len(ids) > MAX_FETCH_IDS:
            raise bad('fetch accepts at most %d ids' % MAX_FETCH_IDS)
        for i in ids:
            check_ascii_id(i, 'id')
        ns = self.query_namespace(req)
        space = idx.ns(ns)
        vectors = {}
        if space:
            for i in ids:
                rec = space.records.get(i)
                if rec is not None:
                    vectors[i] = rec.as_vector()
        return json_response(200, {'vectors': vectors, 'namespace': ns,
                                   'usage': {'readUnits': 1}})

    def fetch_by_metadata(self, req, idx):
        """POST /vectors/fetch_by_metadata with pagination."""
        body = self.json_body(req)
        flt = body.get('filter')
        if not isinstance(flt, dict) or not flt:
            raise bad('filter is required and must be a non-empty object')
        check_filter(flt)
        limit = body.get('limit', 100)
        if not isinstance(limit, int) or isinstance(limit, bool) or \
                not 1 <= limit <= 10000:
            raise bad('limit must be an integer from 1 to 10000')
        ns = self.body_namespace(body)
        space = idx.ns(ns)
        ids = sorted(space.records) if space else []
        start = self.decode_token(body.get('paginationToken'))
        sel = [i for i in ids if (start is None or i > start)
               and match_filter(space.records[i].metadata or {}, flt)]
        page = sel[:limit]
        out = {'vectors': {i: space.records[i].as_vector() for i in page},
               'namespace': ns, 'usage': {'readUnits': 1}}
        if len(sel) > limit:
            out['pagination'] = {'next': self.encode_token(page[-1])}
        return json_response(200, out)

    def update(self, req, idx):
        """POST /vectors/update by id or by filter (merge of setMetadata)."""
        body = self.json_body(req)
        ns = self.body_namespace(body)
        rid = body.get('id')
        flt = body.get('filter')
        if (rid is None) == (flt is None):
            raise bad('exactly one of id or filter is required')
        values = body.get('values')
        sparse = body.get('sparseValues')
        md = body.get('setMetadata')
        arr = self.check_dense(idx, values) if values is not None else None
        if arr is not None and np.all(np.abs(arr) < 1e-8):
            raise bad('Dense vector must contain at least one non-zero value')
        sp = self.check_sparse(sparse) if sparse is not None else None
        if sp is not None and idx.metric != 'dotproduct':
            raise bad('Sparse values are supported only for indexes with '
                      'the dotproduct metric')
        if md is not None:
            md = self.check_metadata(md, 'setMetadata')
        space = idx.ns(ns)
        if flt is not None:
            if not isinstance(flt, dict) or not flt:
                raise bad('filter must be a non-empty object')
            if values is not None or sparse is not None:
                raise bad('filter cannot be combined with values or '
                          'sparseValues')
            check_filter(flt)
            dry = body.get('dryRun', False)
            hits = [r for r in (space.records.values() if space else [])
                    if match_filter(r.metadata or {}, flt)]
            if not dry and md:
                # Validate every merge first: all records change or none
                merged = []
                for r in hits:
                    m = dict(r.metadata or {})
                    m.update(md)
                    merged.append(self.check_metadata(m))
                for r, m in zip(hits, merged):
                    r.metadata = m
            return json_response(200, {'matchedRecords': len(hits)})
        check_ascii_id(rid, 'id')
        rec = space.records.get(rid) if space else None
        if rec is not None:
            if md:
                merged = dict(rec.metadata or {})
                merged.update(md)
                rec.metadata = self.check_metadata(merged)
            if arr is not None:
                rec.values = arr
                rec._out = None
            if sp is not None:
                rec.sparse = sp
            space.invalidate()
        return json_response(200, {})

    def delete(self, req, idx):
        """POST /vectors/delete by ids, by filter or all."""
        body = self.json_body(req)
        ns = self.body_namespace(body)
        ids = body.get('ids')
        delete_all = body.get('deleteAll')
        if delete_all is not None and not isinstance(delete_all, bool):
            raise bad('deleteAll must be a boolean')
        flt = body.get('filter')
        chosen = [s for s in (ids is not None, bool(delete_all),
                              flt is not None) if s]
        if len(chosen) != 1:
            raise bad('exactly one of ids, deleteAll or filter is required')
        space = idx.ns(ns)
        if ids is not None:
            if not isinstance(ids, list) or not ids:
                raise bad('ids must be a non-empty array')
            if len(ids) > MAX_DELETE_IDS:
                raise bad('delete accepts at most %d ids' % MAX_DELETE_IDS)
            for i in ids:
                check_ascii_id(i, 'id')
            if space:
                for i in ids:
                    space.records.pop(i, None)
        elif delete_all:
            if space:
                space.records.clear()
        else:
            if not isinstance(flt, dict) or not flt:
                raise bad('filter must be a non-empty object')
            check_filter(flt)
            if space:
                for r in [r for r, rec in space.records.items()
                          if match_filter(rec.metadata or {}, flt)]:
                    del space.records[r]
        if space is not None:
            space.invalidate()
            if not space.records:
                del idx.namespaces[ns]
        return json_response(200, {})

    @staticmethod
    def encode_token(last_id):
        """An opaque pagination token naming the last id of a page."""
        return base64.urlsafe_b64encode(
            json.dumps({'after': last_id}).encode()).decode().rstrip('=')

    @staticmethod
    def decode_token(token):
        """The last id of the previous page; 400 for a token we did not make."""
        if token is None:
            return None
        try:
            pad = '=' * (-len(token) % 4)
            return json.loads(base64.urlsafe_b64decode(token + pad))['after']
        except (ValueError, KeyError, TypeError):
            raise bad('invalid pagination token')

    def list_ids(self, req, idx):
        """GET /vectors/list: ids in byte order, paginated."""
        q = req.query
        prefix = q.get('prefix', [None])[-1]
        if prefix is not None:
            check_ascii_id(prefix, 'prefix', allow_empty=True)
        limit = q.get('limit', ['100'])[-1]
        try:
            limit = int(limit)
        except ValueError:
            raise bad('limit must be an integer')
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise bad('limit must be from 1 to %d' % MAX_LIST_LIMIT)
        after = self.decode_token(q.get('paginationToken', [None])[-1])
        ns = self.query_namespace(req)
        space = idx.ns(ns)
        ids = sorted(space.records, key=lambda s: s.encode()) if space else []
        sel = [i for i in ids if (prefix is None or i.startswith(prefix))
               and (after is None or i.encode() > after.encode())]
        page = sel[:limit]
        out = {'vectors': [{'id': i} for i in page], 'namespace': ns,
               'usage': {'readUnits': 1}}
        if len(sel) > limit:
            out['pagination'] = {'next': self.encode_token(page[-1])}
        return json_response(200, out)

    def stats_call(self, req, idx):
        """POST /describe_index_stats."""
        body = self.json_body(req, required=False)
        flt = body.get('filter')
        if flt:
            raise bad('Serverless and starter indexes do not support '
                      'describing index stats with metadata filtering')
        nss = {n: {'vectorCount': len(s.records)}
               for n, s in sorted(idx.namespaces.items()) if s.records}
        out = {'namespaces': nss, 'indexFullness': 0,
               'totalVectorCount': sum(v['vectorCount'] for v in nss.values()),
               'metric': idx.metric, 'vectorType': idx.vector_type}
        if idx.dimension is not None:
            out['dimension'] = idx.dimension
        return json_response(200, out)

    # --- control API ----------------------------------------------------------------

    def state_dump(self):
        """Every index, namespace and record for GET /_fake/state."""
        out = {'provider': 'pinecone', 'indexes': {}}
        for name, idx in sorted(self.indexes.items()):
            nss = {}
            for n, s in sorted(idx.namespaces.items()):
                nss[n] = {r: s.records[r].as_vector()
                          for r in sorted(s.records)}
            out['indexes'][name] = {
                'name': name, 'dimension': idx.dimension,
                'metric': idx.metric, 'vector_type': idx.vector_type,
                'host': idx.listener.base_url(),
                'port': idx.listener.port,
                'deletion_protection': idx.deletion_protection,
                'tags': idx.tags, 'namespaces': nss}
        return out


def main():
    """Command line: the common options plus --api-key."""
    args = parse_args('strict fake Pinecone server',
                      lambda ap: ap.add_argument(
                          '--api-key', help='the only accepted Api-Key '
                          '(default: any non-empty key)'))
    core = PineconeFake(args)
    return serve(core, 'control')


if __name__ == '__main__':
    sys.exit(main())
