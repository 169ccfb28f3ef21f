#!/usr/bin/python3
"""milvus_fake.py: a strict fake of the Milvus RESTful API v2
(``POST /v2/vectordb/...``) for the test suite, following
/work/shared/specs/milvus-rest.md (it implements the 3.0 behaviour where 2.x
and 3.0 differ).

One listener serves everything, including the control API ``/_fake/...``.
What is enforced (spec rules marked [verified]/[doc]):

* only POST; unknown routes and other methods get the text 404 of gin;
* the body is parsed as JSON whatever the Content-Type; an empty body is code
  1801, invalid JSON 1801, a missing required member 1802;
* authentication when ``--token`` is given: ``Bearer user:password``,
  ``Bearer <api key>`` or Basic; otherwise HTTP 401 ``{"code":1800,...}``;
* the envelope ``{"code":0,"data":...}``; business errors are HTTP 200 with
  the non-zero ``merr`` code of spec section 3;
* Int64 values (primary keys, Int64 fields, insert/upsert ids) as decimal
  strings unless ``Accept-Type-Allow-Int64: true``;
* collections in quick-setup and schema form, load state (search/query on a
  released collection is code 101, unknown collection code 100), partitions,
  indexes, row validation on insert/upsert (code 1804);
* search/query limits (``limit`` default 100, ``offset+limit <= 16384``),
  ``metricType`` must match the index, ``consistencyLevel`` must be one of
  the five names, ``Request-Timeout`` must be an integer;
* distances per spec section 7: L2 squared ascending, IP and COSINE
  descending, float32-rounded, ties broken by primary key;
* the filter grammar of milvus_expr.py with ``exprParams``.

Deviation, documented in doc/fakes.md: inserting a primary key that already
exists replaces the row (real Milvus keeps both copies); query results are
ordered by primary key (real Milvus gives no order).  ``POST
/_fake/query_order {"order":"shuffled"}`` makes every query answer its
selection in a fresh random order instead, which the spec equally allows, so
that a test can prove a client does not rely on an order (``"pk"`` goes
back).
"""

import base64
import itertools
import json
import os
import random
import sys
import time

import numpy as np

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(__file__))
from fakecommon import (all_numbers, ApiError, FakeCore, Response,
                        basic_auth_pair, dumps,
                        f32_array, f32_out, f32_scalar, is_number,
                        json_response, parse_args, serve)
from milvus_expr import ExprError, compile_filter, truth

CONSISTENCY_LEVELS = ('Strong', 'Session', 'Bounded', 'Eventually',
                      'Customized')
SCALAR_TYPES = ('Bool', 'Int8', 'Int16', 'Int32', 'Int64', 'Float', 'Double',
                'VarChar', 'JSON', 'Array')
VECTOR_TYPES = ('FloatVector', 'SparseFloatVector')
INT_RANGES = {'Int8': 2 ** 7, 'Int16': 2 ** 15, 'Int32': 2 ** 31,
              'Int64': 2 ** 63}
METRICS = ('L2', 'IP', 'COSINE')
MAX_WINDOW = 16384
MAX_NQ = 16384
MAX_DIM = 32768
DEFAULT_LIMIT = 100
MAX_VARCHAR = 65535

# merr codes used here
CODE_COLLECTION_NOT_FOUND = 100
CODE_NOT_LOADED = 101
CODE_PARTITION_NOT_FOUND = 200
CODE_INDEX_NOT_FOUND = 700
CODE_INDEX_DUPLICATE = 702
CODE_DB_NOT_FOUND = 800
CODE_INVALID = 1100
CODE_MISSING = 1101
CODE_FIELD_NOT_FOUND = 1700
CODE_UNAUTHENTICATED = 1800
CODE_BAD_JSON = 1801
CODE_MISSING_REQUIRED = 1802
CODE_SCHEMA = 1803
CODE_BAD_DATA = 1804
CODE_BAD_PK = 1806
CODE_UNEXPECTED = 65535


def err(code, message):
    """A business error: HTTP 200 with a non-zero code."""
    return ApiError(200, code, message)


class Field:
    """One schema field."""

    def __init__(self, fid, name, dtype, primary=False, auto_id=False,
                 dim=None, max_length=None, nullable=False,
                 element_type=None, max_capacity=None, default=None,
                 description=''):
        """A field as the schema declared it."""
        self.id = fid
        self.name = name
        self.type = dtype
        self.primary = primary
        self.auto_id = auto_id
        self.dim = dim
        self.max_length = max_length
        self.nullable = nullable
        self.element_type = element_type
        self.max_capacity = max_capacity
        self.default = default
        self.description = description

    def describe(self):
        """The field as describe_collection reports it (type params as strings)."""
        d = {'name': self.name, 'id': self.id, 'type': self.type,
             'primaryKey': self.primary, 'partitionKey': False,
             'clusteringKey': False, 'autoId': self.auto_id,
             'description': self.description, 'nullable': self.nullable}
        params = []
        if self.dim is not None:
            params.append({'key': 'dim', 'value': str(self.dim)})
        if self.max_length is not None:
            params.append({'key': 'max_length', 'value': str(self.max_length)})
        if self.max_capacity is not None:
            params.append({'key': 'max_capacity',
                           'value': str(self.max_capacity)})
        if params:
            d['params'] = params
        if self.element_type:
            d['elementType'] = self.element_type
        if self.default is not None:
            d['defaultValue'] = self.default
        return d


class Collection:
    """A collection: schema, indexes, partitions of rows, load state."""

    id_seq = itertools.count(449000000000000001)

    def __init__(self, name, fields, dynamic, consistency, description=''):
        """Schema, no rows, unloaded, and an id like Milvus' big int64 ids."""
        self.name = name
        self.id = next(Collection.id_seq)
        self.fields = fields                     # list of Field
        self.by_name = {f.name: f for f in fields}
        self.pk = next(f for f in fields if f.primary)
        self.dynamic = dynamic
        self.consistency = consistency
        self.description = description
        self.indexes = {}                        # index name -> dict
        self.partitions = {'_default': {}}       # name -> {pk: row}
        self.loaded = set()                      # loaded partition names
        self.auto_seq = itertools.count(460000000000000001)
        # Row list and vector matrices of the last search, valid while
        # write_seq (bumped by every insert, upsert and delete) is unchanged
        self.write_seq = 0
        self.rows_cache = None
        self.matrix_cache = {}
        self.created = time.time()

    def vector_fields(self):
        """The vector fields, in schema order."""
        return [f for f in self.fields if f.type in VECTOR_TYPES]

    def index_on(self, field_name):
        """The index on a field, or None."""
        for ix in self.indexes.values():
            if ix['fieldName'] == field_name:
                return ix
        return None

    def load_state(self):
        """LoadStateLoaded when any partition is loaded."""
        if not self.loaded:
            return 'LoadStateNotLoad'
        return 'LoadStateLoaded'

    def schema_types(self):
        """Field name -> type for the expression parser."""
        return {f.name: f.type for f in self.fields}

    def find(self, pk):
        """The partition holding a primary key, or None."""
        for pname, rows in self.partitions.items():
            if pk in rows:
                return pname
        return None

    def row_count(self):
        """Rows in all partitions."""
        return sum(len(r) for r in self.partitions.values())


def get_str(body, key, required=True):
    """A required (or optional) string member; missing is code 1802."""
    v = body.get(key)
    if v is None or v == '':
        if required:
            raise err(CODE_MISSING_REQUIRED, 'missing required parameters, '
                      'error: Key: \'%s\' Error:Field validation for \'%s\' '
                      'failed on the \'required\' tag' % (key, key))
        return None
    if not isinstance(v, str):
        raise err(CODE_BAD_JSON, 'can only accept json format request, '
                  'error: %s must be a string' % key)
    return v


def get_int(body, key, default):
    """An optional integer member."""
    v = body.get(key, default)
    if v is None:
        return default
    if not isinstance(v, int) or isinstance(v, bool):
        raise err(CODE_BAD_JSON, 'can only accept json format request, '
                  'error: %s must be an integer' % key)
    return v


def param_int(v, what):
    """Type params like dim/max_length come as numbers or strings."""
    try:
        if isinstance(v, bool):
            raise ValueError
        return int(v)
    except (TypeError, ValueError):
        raise err(CODE_INVALID, 'invalid parameter %s: %r' % (what, v))


class MilvusFake(FakeCore):
    """The fake: one listener, one default database."""

    provider = 'milvus'

    def __init__(self, args):
        """No collections yet."""
        super().__init__(args)
        self.collections = {}
        self.query_order = 'pk'

    def control_extra(self, req, body):
        """POST /_fake/query_order {"order": "pk"|"shuffled"}: the order of
        query answers (see the module docstring)."""
        if req.path.split('?')[0] == '/_fake/query_order' and \
                req.method == 'POST':
            order = body.get('order') if isinstance(body, dict) else None
            if order not in ('pk', 'shuffled'):
                return json_response(400, {'error': 'order is pk or shuffled'})
            with self.lock:
                self.query_order = order
            return json_response(200, {'order': order})
        return None

    # --- errors -----------------------------------------------------------

    def error_response(self, req, e):
        """The envelope {code, message} with the HTTP status (200 for business errors); 404 as gin's text."""
        if e.status == 404:
            return Response(404, '404 page not found', 'text/plain')
        code = e.code if e.code is not None else CODE_UNEXPECTED
        return json_response(e.status, {'code': code, 'message': e.message})

    def status_fault_response(self, req, status, spec):
        """A scripted status with the body Milvus (or a proxy in front of it) sends."""
        msg = spec.get('message')
        if status == 401:
            return json_response(401, {'code': CODE_UNAUTHENTICATED,
                                       'message': msg or
                                       "user hasn't authenticated"})
        if status == 403:
            return json_response(403, {'code': 1401, 'message': msg or
                                       'privilege not permitted'})
        if status == 408:
            return json_response(408, {'code': 10001,
                                       'message': msg or 'request timeout'})
        if status == 404:
            return Response(404, '404 page not found', 'text/plain')
        if spec.get('shape') == 'json' or status < 500:
            return json_response(status, {'code': int(spec.get('code',
                                                               CODE_UNEXPECTED)),
                                          'message': msg or 'scripted fault'})
        return Response(status, msg or '%d scripted fault' % status,
                        'text/plain')

    def server_timeout(self, req):
        """Request-Timeout (integer seconds, spec 1) bounds a latency fault:
        past it Milvus answers HTTP 408 code 10001."""
        value = req.header('request-timeout')
        try:
            return float(int(value)) if value is not None else None
        except ValueError:
            return None

    def timeout_response(self, req):
        """HTTP 408 code 10001, as the timeout middleware answers."""
        return json_response(408, {'code': 10001,
                                   'message': 'request timeout'})

    # --- dispatch ------------------------------------------------------------

    def run_handler(self, req):
        """JSON answers are labelled as gin labels them."""
        resp = super().run_handler(req)
        if resp.content_type == 'application/json':
            resp.content_type = 'application/json; charset=utf-8'
        return resp

    def check_auth(self, req):
        """With --token: Bearer token or Basic user:password, else 401 code 1800."""
        token = self.args.token
        if token is None:
            return
        auth = req.header('authorization') or ''
        ok = False
        if auth.startswith('Bearer '):
            ok = auth[7:] == token
        elif auth.startswith('Basic '):
            ok = basic_auth_pair(auth[6:]) == token and ':' in token
        if not ok:
            raise ApiError(401, CODE_UNAUTHENTICATED,
                           "user hasn't authenticated")

    def handle(self, req):
        """Route, authenticate, check the body and the common members, run, wrap in the envelope."""
        if req.method != 'POST' or not req.path.startswith('/v2/vectordb/'):
            raise ApiError(404, None, 'not found')
        route = req.path[len('/v2/vectordb/'):]
        fn = ROUTES.get(route)
        if fn is None:
            raise ApiError(404, None, 'not found')
        self.check_auth(req)
        timeout = req.header('request-timeout')
        if timeout is not None:
            try:
                int(timeout)
            except ValueError:
                raise err(CODE_INVALID, 'invalid parameter Request-Timeout: '
                          '%s is not an integer' % timeout)
        if not req.body:
            raise err(CODE_BAD_JSON, 'can only accept json format request, '
                      'the request body should be nil, however {} is valid')
        try:
            body = json.loads(req.body)
        except ValueError as e:
            raise err(CODE_BAD_JSON, 'can only accept json format request, '
                      'error: %s' % e)
        if not isinstance(body, dict):
            raise err(CODE_BAD_JSON, 'can only accept json format request, '
                      'error: the body must be a JSON object')
        db = body.get('dbName') or req.header('db-name') or 'default'
        if db != 'default':
            raise err(CODE_DB_NOT_FOUND, 'database not found[database=%s]'
                      % db)
        cl = body.get('consistencyLevel')
        if cl is not None and cl not in CONSISTENCY_LEVELS:
            raise err(CODE_INVALID, 'invalid parameter consistencyLevel: %r, '
                      'must be one of %s' % (cl, ', '.join(CONSISTENCY_LEVELS)))
        allow64 = (req.header('accept-type-allow-int64') or '').lower() \
            == 'true'
        with self.lock:
            out = fn(self, body, allow64)
        if isinstance(out, Response):
            return out
        env = {'code': 0, 'data': out}
        if isinstance(out, tuple):
            env = {'code': 0, 'data': out[0]}
            env.update(out[1])
        if 'cost' not in env:
            env['cost'] = 0
        return json_response(200, env)

    def coll(self, body):
        """The collection named by collectionName; code 100 when unknown."""
        name = get_str(body, 'collectionName')
        c = self.collections.get(name)
        if c is None:
            raise err(CODE_COLLECTION_NOT_FOUND, "can't find collection"
                      "[database=default][collection=%s]" % name)
        return c

    # --- collections ---------------------------------------------------------

    def create_collection(self, body, allow64):
        """collections/create, quick-setup or schema form."""
        name = get_str(body, 'collectionName')
        check_name(name, 'collection')
        if name in self.collections:
            raise err(CODE_INVALID, 'collection %s already exists' % name)
        params = body.get('params') or {}
        if not isinstance(params, dict):
            raise err(CODE_INVALID, 'params must be an object')
        consistency = params.get('consistencyLevel', 'Bounded')
        if consistency not in CONSISTENCY_LEVELS:
            raise err(CODE_INVALID, 'invalid consistencyLevel %r'
                      % consistency)
        schema = body.get('schema')
        index_params = body.get('indexParams')
        if schema is not None:
            if not isinstance(schema, dict) or \
                    not isinstance(schema.get('fields'), list):
                raise err(CODE_SCHEMA, 'fail to marshal collection schema: '
                          'schema.fields must be an array')
            auto = bool(schema.get('autoId', schema.get('autoID', False)))
            dynamic = bool(schema.get('enableDynamicField',
                                      params.get('enableDynamicField',
                                                 False)))
            fields = []
            for i, fd in enumerate(schema['fields']):
                fields.append(self.parse_field(100 + i, fd, auto))
            c = self.build_collection(name, fields, dynamic, consistency,
                                      body.get('description', ''))
            if index_params is not None:
                self.add_indexes(c, index_params)
                c.loaded = set(c.partitions)
        else:
            dim = body.get('dimension')
            if dim is None:
                raise err(CODE_MISSING_REQUIRED, 'missing required parameters'
                          ', error: dimension is required for quick setup')
            dim = param_int(dim, 'dimension')
            metric = body.get('metricType') or 'COSINE'
            if metric not in METRICS:
                raise err(CODE_INVALID, 'invalid metric type %s' % metric)
            id_type = body.get('idType') or 'Int64'
            if id_type not in ('Int64', 'VarChar'):
                raise err(CODE_INVALID, 'idType must be Int64 or VarChar')
            pk_name = body.get('primaryFieldName') or 'id'
            vec_name = body.get('vectorFieldName') or 'vector'
            auto = bool(body.get('autoID', body.get('autoId', False)))
            dynamic = bool(params.get('enableDynamicField', True))
            max_len = None
            if id_type == 'VarChar':
                max_len = param_int(params.get('max_length', MAX_VARCHAR),
                                    'max_length')
            fields = [Field(100, pk_name, id_type, primary=True,
                            auto_id=auto, max_length=max_len),
                      Field(101, vec_name, 'FloatVector', dim=dim)]
            for f in fields:
                check_name(f.name, 'field')
            if not 1 <= dim <= MAX_DIM:
                raise err(CODE_INVALID, 'invalid dimension: %d, should be in '
                          'range 1 ~ %d' % (dim, MAX_DIM))
            c = self.build_collection(name, fields, dynamic, consistency,
                                      body.get('description', ''))
            c.indexes[vec_name] = {'fieldName': vec_name,
                                   'indexName': vec_name,
                                   'metricType': metric,
                                   'indexType': 'AUTOINDEX', 'params': {}}
            c.loaded = set(c.partitions)
        self.collections[name] = c
        return {}

    def parse_field(self, fid, fd, auto):
        """One field of a schema-form create, with its type parameters."""
        if not isinstance(fd, dict):
            raise err(CODE_SCHEMA, 'fail to marshal collection schema')
        name = fd.get('fieldName')
        dtype = fd.get('dataType')
        if not name or not dtype:
            raise err(CODE_MISSING_REQUIRED, 'missing required parameters, '
                      'error: fieldName and dataType are required')
        check_name(name, 'field')
        if dtype not in SCALAR_TYPES + VECTOR_TYPES:
            raise err(CODE_INVALID, 'field %s: unsupported data type %s'
                      % (name, dtype))
        tp = fd.get('elementTypeParams') or {}
        primary = bool(fd.get('isPrimary', False))
        f = Field(fid, name, dtype, primary=primary,
                  auto_id=primary and bool(auto or fd.get('autoId')),
                  nullable=bool(fd.get('nullable', False)),
                  default=fd.get('defaultValue'),
                  description=fd.get('description', ''))
        if dtype == 'FloatVector':
            if 'dim' not in tp:
                raise err(CODE_INVALID, 'dimension is not defined in field '
                          'type params of %s' % name)
            f.dim = param_int(tp['dim'], 'dim')
            if not 1 <= f.dim <= MAX_DIM:
                raise err(CODE_INVALID, 'invalid dimension: %d, should be in '
                          'range 1 ~ %d' % (f.dim, MAX_DIM))
        if dtype == 'VarChar' or (dtype == 'Array' and
                                  fd.get('elementDataType') == 'VarChar'):
            if 'max_length' not in tp:
                raise err(CODE_INVALID, 'type param(max_length) should be '
                          'specified for the field(%s)' % name)
            f.max_length = param_int(tp['max_length'], 'max_length')
            if not 1 <= f.max_length <= MAX_VARCHAR:
                raise err(CODE_INVALID, 'the maximum length specified for '
                          'the field(%s) should be in (0, 65535]' % name)
        if dtype == 'Array':
            et = fd.get('elementDataType')
            if et not in ('Bool', 'Int8', 'Int16', 'Int32', 'Int64', 'Float',
                          'Double', 'VarChar'):
                raise err(CODE_INVALID, 'field %s: invalid elementDataType'
                          % name)
            f.element_type = et
            if 'max_capacity' not in tp:
                raise err(CODE_INVALID, 'type param(max_capacity) should be '
                          'specified for array field %s' % name)
            f.max_capacity = param_int(tp['max_capacity'], 'max_capacity')
        if primary:
            if dtype not in ('Int64', 'VarChar'):
                raise err(CODE_INVALID, 'primary key field %s must be Int64 '
                          'or VarChar' % name)
            if f.nullable:
                raise err(CODE_INVALID, 'primary field %s cannot be nullable'
                          % name)
        if f.nullable and dtype in VECTOR_TYPES:
            raise err(CODE_INVALID, 'vector field %s cannot be nullable'
                      % name)
        return f

    def build_collection(self, name, fields, dynamic, consistency, desc):
        """Schema-level checks: unique names, one primary key, a vector field."""
        names = [f.name for f in fields]
        if len(set(names)) != len(names):
            raise err(CODE_INVALID, 'duplicated field name')
        if sum(1 for f in fields if f.primary) != 1:
            raise err(CODE_INVALID, 'there must be exactly one primary key '
                      'field')
        if not any(f.type in VECTOR_TYPES for f in fields):
            raise err(CODE_INVALID, 'schema does not contain vector field')
        return Collection(name, fields, dynamic, consistency, desc)

    def add_indexes(self, c, index_params):
        """indexParams of create or indexes/create; one index per field."""
        if not isinstance(index_params, list):
            raise err(CODE_INVALID, 'indexParams must be an array')
        new = {}
        for ip in index_params:
            if not isinstance(ip, dict):
                raise err(CODE_INVALID, 'indexParams entries must be objects')
            fname = ip.get('fieldName')
            if not fname:
                raise err(CODE_MISSING_REQUIRED, 'missing required '
                          'parameters, error: fieldName is required')
            f = c.by_name.get(fname)
            if f is None:
                raise err(CODE_FIELD_NOT_FOUND, 'field not found[field=%s]'
                          % fname)
            metric = ip.get('metricType')
            params = ip.get('params') or {}
            itype = ip.get('indexType') or params.get('index_type') or \
                'AUTOINDEX'
            iname = ip.get('indexName') or fname
            if f.type == 'FloatVector':
                if metric is None:
                    metric = 'COSINE'
                if metric not in METRICS:
                    raise err(CODE_INVALID, 'metric type %s is not supported '
                              'for float vectors' % metric)
            elif f.type == 'SparseFloatVector':
                metric = metric or 'IP'
                if metric != 'IP':
                    raise err(CODE_INVALID, 'sparse vectors support only IP '
                              'in this fake')
            existing = c.index_on(fname)
            if existing is not None or iname in c.indexes or iname in new:
                raise err(CODE_INDEX_DUPLICATE, 'at most one distinct index '
                          'is allowed per field')
            new[iname] = {'fieldName': fname, 'indexName': iname,
                          'metricType': metric, 'indexType': itype,
                          'params': params}
        c.indexes.update(new)

    def describe_collection(self, body, allow64):
        """collections/describe in the 3.0 shape."""
        c = self.coll(body)
        vec = c.vector_fields()[0]
        ix = c.index_on(vec.name)
        return {'collectionName': c.name, 'collectionID': c.id,
                'description': c.description, 'autoId': c.pk.auto_id,
                'fields': [f.describe() for f in c.fields],
                'functions': [], 'aliases': [],
                'indexes': [{'fieldName': ix['fieldName'],
                             'indexName': ix['indexName'],
                             'metricType': ix['metricType']}] if ix else [],
                'load': c.load_state(), 'shardsNum': 1,
                'partitionsNum': len(c.partitions),
                'consistencyLevel': c.consistency,
                'enableDynamicField': c.dynamic, 'properties': [],
                'createdTime': int(c.created * 1000)}

    def list_collections(self, body, allow64):
        """collections/list."""
        return sorted(self.collections)

    def has_collection(self, body, allow64):
        """collections/has."""
        name = get_str(body, 'collectionName')
        return {'has': name in self.collections}

    def drop_collection(self, body, allow64):
        """collections/drop."""
        c = self.coll(body)
        del self.collections[c.name]
        return {}

    def rename_collection(self, body, allow64):
        """collections/rename."""
        c = self.coll(body)
        new = get_str(body, 'newCollectionName')
        check_name(new, 'collection')
        if new in self.collections:
            raise err(CODE_INVALID, 'duplicated new collection name %s' % new)
        del self.collections[c.name]
        c.name = new
        self.collections[new] = c
        return {}

    def load_collection(self, body, allow64):
        """collections/load; every vector field needs an index (code 700)."""
        c = self.coll(body)
        for f in c.vector_fields():
            if c.index_on(f.name) is None:
                raise err(CODE_INDEX_NOT_FOUND, 'index not found[collection='
                          '%s][field=%s]: there is no vector index on field, '
                          'please create index firstly' % (c.name, f.name))
        c.loaded = set(c.partitions)
        return {}

    def release_collection(self, body, allow64):
        """collections/release."""
        c = self.coll(body)
        c.loaded = set()
        return {}

    def get_load_state(self, body, allow64):
        """collections/get_load_state, optionally for some partitions."""
        c = self.coll(body)
        pnames = body.get('partitionNames')
        if pnames:
            self.check_partitions(c, pnames)
            loaded = all(p in c.loaded for p in pnames)
        else:
            loaded = bool(c.loaded)
        if loaded:
            return {'loadState': 'LoadStateLoaded', 'loadProgress': 100}
        return {'loadState': 'LoadStateNotLoad'}

    def collection_stats(self, body, allow64):
        """collections/get_stats."""
        c = self.coll(body)
        return {'rowCount': c.row_count()}

    def flush(self, body, allow64):
        """collections/flush (nothing to flush here)."""
        self.coll(body)
        return {}

    # --- partitions --------------------------------------------------------------

    def check_partitions(self, c, names):
        """Every named partition exists, else code 200."""
        if not isinstance(names, list):
            raise err(CODE_INVALID, 'partitionNames must be an array')
        for p in names:
            if p not in c.partitions:
                raise err(CODE_PARTITION_NOT_FOUND, 'partition not found'
                          '[partition=%s]' % p)

    def partition_list(self, body, allow64):
        """partitions/list."""
        c = self.coll(body)
        return list(c.partitions)

    def partition_create(self, body, allow64):
        """partitions/create; loaded at once in a loaded collection."""
        c = self.coll(body)
        p = get_str(body, 'partitionName')
        check_name(p, 'partition')
        if p in c.partitions:
            raise err(CODE_INVALID, 'partition %s already exists' % p)
        c.partitions[p] = {}
        if c.loaded:
            c.loaded.add(p)
        return {}

    def partition_has(self, body, allow64):
        """partitions/has."""
        c = self.coll(body)
        p = get_str(body, 'partitionName')
        return {'has': p in c.partitions}

    def partition_drop(self, body, allow64):
        """partitions/drop: released only, never _default."""
        c = self.coll(body)
        p = get_str(body, 'partitionName')
        self.check_partitions(c, [p])
        if p == '_default':
            raise err(CODE_INVALID, 'default partition cannot be deleted')
        if p in c.loaded:
            raise err(CODE_INVALID, 'partition cannot be dropped, partition '
                      'is loaded, please release it first')
        del c.partitions[p]
        return {}

    def partition_load(self, body, allow64):
        """partitions/load."""
        c = self.coll(body)
        names = body.get('partitionNames')
        if not names:
            raise err(CODE_MISSING_REQUIRED, 'missing required parameters, '
                      'error: partitionNames is required')
        self.check_partitions(c, names)
        for f in c.vector_fields():
            if c.index_on(f.name) is None:
                raise err(CODE_INDEX_NOT_FOUND, 'index not found')
        c.loaded.update(names)
        return {}

    def partition_release(self, body, allow64):
        """partitions/release."""
        c = self.coll(body)
        names = body.get('partitionNames')
        if not names:
            raise err(CODE_MISSING_REQUIRED, 'missing required parameters, '
                      'error: partitionNames is required')
        self.check_partitions(c, names)
        c.loaded.difference_update(names)
        return {}

    def partition_stats(self, body, allow64):
        """partitions/get_stats."""
        c = self.coll(body)
        p = get_str(body, 'partitionName')
        self.check_partitions(c, [p])
        return {'rowCount': len(c.partitions[p])}

    # --- indexes ------------------------------------------------------------------

    def index_create(self, body, allow64):
        """indexes/create."""
        c = self.coll(body)
        ips = body.get('indexParams')
        if not ips:
            raise err(CODE_MISSING_REQUIRED, 'missing required parameters, '
                      'error: indexParams is required')
        self.add_indexes(c, ips)
        return {}

    def index_describe(self, body, allow64):
        """indexes/describe."""
        c = self.coll(body)
        name = get_str(body, 'indexName')
        ix = c.indexes.get(name)
        if ix is None:
            raise err(CODE_INDEX_NOT_FOUND, 'index not found[indexName=%s]'
                      % name)
        n = c.row_count()
        return [{'indexName': ix['indexName'], 'fieldName': ix['fieldName'],
                 'indexType': ix['indexType'],
                 'metricType': ix['metricType'], 'totalRows': n,
                 'pendingRows': 0, 'indexedRows': n,
                 'indexState': 'Finished', 'failReason': ''}]

    def index_list(self, body, allow64):
        """indexes/list."""
        c = self.coll(body)
        return sorted(c.indexes)

    def index_drop(self, body, allow64):
        """indexes/drop: the collection must be released."""
        c = self.coll(body)
        name = get_str(body, 'indexName')
        if name not in c.indexes:
            raise err(CODE_INDEX_NOT_FOUND, 'index not found[indexName=%s]'
                      % name)
        if c.loaded:
            raise err(CODE_INVALID, 'index cannot be dropped, collection is '
                      'loaded, please release it first')
        del c.indexes[name]
        return {}

    # --- rows ------------------------------------------------------------------------

    def check_row(self, c, row, upsert):
        """Validate and normalise one row; returns (pk, stored row)."""
        if not isinstance(row, dict):
            raise err(CODE_BAD_DATA, 'fail to deal the insert data, error: '
                      'each row must be an object')
        out = {}
        meta = {}
        for k, v in row.items():
            f = c.by_name.get(k)
            if f is None:
                if k == '$meta':
                    raise err(CODE_BAD_DATA, 'fail to deal the insert data, '
                              'error: $meta is reserved')
                if not c.dynamic:
                    raise err(CODE_BAD_DATA, 'fail to deal the insert data, '
                              'error: field %s does not exist in the schema '
                              'and the dynamic field is disabled' % k)
                meta[k] = v
                continue
            if f.primary and f.auto_id and not upsert:
                raise err(CODE_BAD_DATA, 'fail to deal the insert data, '
                          'error: the primary key %s is auto-generated and '
                          'must not be given' % k)
        for f in c.fields:
            if f.primary and f.auto_id and not upsert:
                out[f.name] = next(c.auto_seq)
                continue
            if f.name not in row:
                if f.default is not None:
                    out[f.name] = f.default
                    continue
                if f.nullable:
                    out[f.name] = None
                    continue
                raise err(CODE_BAD_DATA, 'fail to deal the insert data, '
                          'error: missing field %s' % f.name)
            out[f.name] = self.check_value(f, row[f.name])
        if c.dynamic:
            out['$meta'] = meta
        return out[c.pk.name], out

    def partial_row(self, c, row):
        """3.0 upsert with partialUpdate: the listed fields of an existing
        row change, the others keep their values; a new key needs a full
        row."""
        if not isinstance(row, dict) or c.pk.name not in row:
            raise err(CODE_BAD_DATA, 'fail to deal the insert data, error: '
                      'a partial update needs the primary key %s'
                      % c.pk.name)
        pk = self.check_value(c.pk, row[c.pk.name])
        where = c.find(pk)
        if where is None:
            return self.check_row(c, row, True)
        out = dict(c.partitions[where][pk])
        meta = dict(out.get('$meta') or {})
        for k, v in row.items():
            f = c.by_name.get(k)
            if f is not None:
                out[k] = self.check_value(f, v)
            elif c.dynamic and k != '$meta':
                meta[k] = v
            else:
                raise err(CODE_BAD_DATA, 'fail to deal the insert data, '
                          'error: field %s does not exist in the schema' % k)
        if c.dynamic:
            out['$meta'] = meta
        return pk, out

    def check_value(self, f, v):
        """One value of a row against its field; code 1804 when it does not fit."""
        bad = lambda why: err(CODE_BAD_DATA, 'fail to deal the insert data, '
                              'error: field %s: %s' % (f.name, why))
        if v is None:
            if f.nullable:
                return None
            if f.default is not None:
                return f.default
            raise bad('null is not allowed for a non-nullable field')
        t = f.type
        if t == 'FloatVector':
            if not isinstance(v, list) or not all_numbers(v):
                raise bad('a float vector must be an array of numbers')
            if len(v) != f.dim:
                raise bad('dimension mismatch, expected %d, got %d'
                          % (f.dim, len(v)))
            arr = f32_array(v)
            if not np.all(np.isfinite(arr)):
                raise bad('vector values must be finite float32 numbers')
            return arr
        if t == 'SparseFloatVector':
            if not isinstance(v, dict) or not v:
                raise bad('a sparse vector must be a non-empty object')
            try:
                return {int(k): float(np.float32(x)) for k, x in v.items()
                        if is_number(x)}
            except ValueError:
                raise bad('sparse vector indices must be integers')
        return self.check_scalar(f.name, t, v, f, bad)

    def check_scalar(self, name, t, v, f, bad):
        """Scalar types (also Array elements): ranges, lengths, kinds."""
        if t in INT_RANGES:
            if isinstance(v, str) and t == 'Int64':
                try:
                    v = int(v, 10)
                except ValueError:
                    raise bad('%r is not an Int64' % v)
            if isinstance(v, float) and v.is_integer() and t != 'Int64':
                v = int(v)
            if not isinstance(v, int) or isinstance(v, bool):
                raise bad('%r is not an integer' % (v,))
            lim = INT_RANGES[t]
            if not -lim <= v < lim:
                raise bad('%d is out of range for %s' % (v, t))
            return v
        if t in ('Float', 'Double'):
            if not is_number(v):
                raise bad('%r is not a number' % (v,))
            return float(np.float32(v)) if t == 'Float' else float(v)
        if t == 'Bool':
            if not isinstance(v, bool):
                raise bad('%r is not a boolean' % (v,))
            return v
        if t == 'VarChar':
            if not isinstance(v, str):
                raise bad('%r is not a string' % (v,))
            if f.max_length and len(v.encode('utf-8')) > f.max_length:
                raise bad('the length (%d) of the string exceeds max length '
                          '(%d)' % (len(v.encode('utf-8')), f.max_length))
            return v
        if t == 'JSON':
            if isinstance(v, str):
                try:
                    return json.loads(v)
                except ValueError:
                    raise bad('invalid JSON string')
            return v
        if t == 'Array':
            if not isinstance(v, list):
                raise bad('%r is not an array' % (v,))
            if f.max_capacity is not None and len(v) > f.max_capacity:
                raise bad('array length %d exceeds max capacity %d'
                          % (len(v), f.max_capacity))
            return [self.check_scalar(name, f.element_type, x, f, bad)
                    for x in v]
        raise bad('unsupported type %s' % t)

    def id_out(self, c, pk, allow64):
        """A primary key as the answer shows it (Int64 as a string by default)."""
        if c.pk.type == 'Int64' and not allow64:
            return str(pk)
        return pk

    def insert(self, body, allow64, upsert=False):
        """entities/insert and entities/upsert."""
        c = self.coll(body)
        data = body.get('data')
        if data is None:
            raise err(CODE_MISSING_REQUIRED, 'missing required parameters, '
                      'error: data is required')
        if not isinstance(data, list):
            raise err(CODE_BAD_JSON, 'can only accept json format request, '
                      'error: data must be an array of rows')
        pname = body.get('partitionName') or '_default'
        self.check_partitions(c, [pname])
        partial = body.get('partialUpdate', False)
        if not isinstance(partial, bool):
            raise err(CODE_INVALID, 'partialUpdate must be a boolean')
        rows = []
        for r in data:
            if upsert and partial:
                rows.append(self.partial_row(c, r))
            else:
                rows.append(self.check_row(c, r, upsert))
        pks = [pk for pk, _ in rows]
        for pk, row in rows:
            if upsert:
                old = c.find(pk)
                if old is not None:
                    del c.partitions[old][pk]
            else:
                old = c.find(pk)
                if old is not None and old != pname:
                    del c.partitions[old][pk]
            c.partitions[pname][pk] = row
        c.write_seq += 1
        ids = [self.id_out(c, pk, allow64) for pk in pks]
        if upsert:
            return {'upsertCount': len(ids), 'upsertIds': ids}
        return {'insertCount': len(ids), 'insertIds': ids}

    def upsert(self, body, allow64):
        """entities/upsert."""
        return self.insert(body, allow64, upsert=True)

    def compile(self, c, body, key='filter'):
        """The filter member parsed for this collection; code 1100 when invalid."""
        text = body.get(key)
        if text is None or text == '':
            return None
        if not isinstance(text, str):
            raise err(CODE_INVALID, 'filter must be a string')
        params = body.get('exprParams')
        if params is not None and not isinstance(params, dict):
            raise err(CODE_INVALID, 'exprParams must be an object')
        try:
            return compile_filter(text, params, c.schema_types(), c.dynamic)
        except ExprError as e:
            raise err(CODE_INVALID, 'failed to create query plan: %s' % e)
        except (ValueError, RecursionError) as e:
            raise err(CODE_INVALID, 'failed to create query plan: %s' % e)

    def eval_row(self, node, row):
        """A compiled filter on one stored row."""
        view = dict(row)
        meta = view.pop('$meta', None)
        if meta:
            view['$meta'] = meta
        try:
            return truth(node, view)
        except ExprError as e:
            raise err(CODE_INVALID, 'failed to evaluate filter: %s' % e)

    def rows_in(self, c, pnames, require_loaded=True):
        """(pk, row) of the chosen partitions, sorted by primary key."""
        if pnames:
            self.check_partitions(c, pnames)
        if require_loaded:
            if not c.loaded:
                raise err(CODE_NOT_LOADED, 'collection not loaded'
                          '[collection=%s]' % c.name)
            for p in pnames or []:
                if p not in c.loaded:
                    raise err(201, 'partition not loaded[partition=%s]' % p)
        chosen = pnames or [p for p in c.partitions
                            if not require_loaded or p in c.loaded]
        key = (c.write_seq, tuple(chosen))
        if c.rows_cache is not None and c.rows_cache[0] == key:
            return c.rows_cache[1]
        out = []
        for p in chosen:
            out.extend(c.partitions[p].items())
        out.sort(key=lambda t: t[0])
        c.rows_cache = (key, out)
        c.matrix_cache = {}
        return out

    def vectors_of(self, c, vf, rows):
        """(positions of rows having the vector, float64 matrix), cached
        with the row list of rows_in."""
        hit = c.matrix_cache.get(vf.name)
        if hit is not None and hit[0] is rows:
            return hit[1], hit[2]
        pos = [i for i, (_, r) in enumerate(rows)
               if r.get(vf.name) is not None]
        if pos:
            m = np.vstack([rows[i][1][vf.name] for i in pos]) \
                .astype(np.float64)
        else:
            m = np.zeros((0, vf.dim or 0))
        c.matrix_cache[vf.name] = (rows, pos, m)
        return pos, m

    def output_fields(self, c, names, default_all):
        """Resolve outputFields to (schema field names, dynamic keys,
        whole dynamic field?)."""
        if names is None:
            names = ['*'] if default_all else []
        if not isinstance(names, list):
            raise err(CODE_INVALID, 'outputFields must be an array')
        fields, dyn, all_dyn = [], [], False
        for n in names:
            if n == '*':
                fields.extend(f.name for f in c.fields
                              if f.name not in fields)
                all_dyn = c.dynamic
            elif n in c.by_name:
                if n not in fields:
                    fields.append(n)
            elif n == '$meta' and c.dynamic:
                all_dyn = True
            elif c.dynamic:
                dyn.append(n)
            else:
                raise err(CODE_INVALID, 'field %s not exist' % n)
        if c.pk.name not in fields:
            fields.insert(0, c.pk.name)
        return fields, dyn, all_dyn

    def render(self, c, row, fields, dyn, all_dyn, allow64):
        """A stored row as query/get/search return it."""
        out = {}
        for n in fields:
            f = c.by_name[n]
            v = row.get(n)
            if v is None:
                out[n] = None
            elif f.type == 'FloatVector':
                out[n] = f32_out(v)
            elif f.type == 'SparseFloatVector':
                out[n] = {str(k): x for k, x in sorted(v.items())}
            elif f.type == 'Int64' and not allow64:
                out[n] = str(v)
            elif f.type == 'Array' and f.element_type == 'Int64' and \
                    not allow64:
                out[n] = [str(x) for x in v]
            elif f.type == 'JSON':
                out[n] = json.dumps(v, separators=(',', ':'))
            else:
                out[n] = v
        meta = row.get('$meta') or {}
        if all_dyn:
            for k, v in meta.items():
                if k not in out:
                    out[k] = v
        for k in dyn:
            if k in meta:
                out[k] = meta[k]
        return out

    def window(self, body):
        """limit/offset with the defaults and the 16384 window."""
        limit = get_int(body, 'limit', None)
        offset = get_int(body, 'offset', 0)
        if offset < 0:
            raise err(CODE_INVALID, 'invalid offset %d: should be in range '
                      '[0, %d]' % (offset, MAX_WINDOW))
        if limit is not None and limit <= 0:
            raise err(CODE_INVALID, 'invalid limit %d: should be in range '
                      '[1, %d]' % (limit, MAX_WINDOW))
        eff = DEFAULT_LIMIT if limit is None else limit
        if eff + offset > MAX_WINDOW:
            raise err(CODE_INVALID, 'invalid max query result window, '
                      '(offset+limit) should be in range [1, %d], but got %d'
                      % (MAX_WINDOW, eff + offset))
        return limit, eff, offset

    def query(self, body, allow64):
        """entities/query, including count(*)."""
        c = self.coll(body)
        limit, eff, offset = self.window(body)
        node = self.compile(c, body)
        names = body.get('outputFields')
        count_only = names == ['count(*)']
        if node is None and limit is None and not count_only:
            raise err(CODE_INVALID, 'empty expression should be used with '
                      'limit')
        rows = self.rows_in(c, body.get('partitionNames'))
        sel = [(pk, r) for pk, r in rows
               if node is None or self.eval_row(node, r)]
        if count_only:
            return [{'count(*)': len(sel)}]
        fields, dyn, all_dyn = self.output_fields(c, names, True)
        if self.query_order == 'shuffled':
            sel = list(sel)
            random.shuffle(sel)
        page = sel[offset:offset + eff]
        return [self.render(c, r, fields, dyn, all_dyn, allow64)
                for _, r in page]

    def get(self, body, allow64):
        """entities/get by primary keys."""
        c = self.coll(body)
        ids = body.get('id')
        if ids is None:
            raise err(CODE_MISSING_REQUIRED, 'missing required parameters, '
                      'error: id is required')
        if not isinstance(ids, list):
            ids = [ids]
        keys = [self.pk_value(c, i) for i in ids]
        rows = self.rows_in(c, body.get('partitionNames'))
        want = set(keys)
        fields, dyn, all_dyn = self.output_fields(c, body.get('outputFields'),
                                                  True)
        return [self.render(c, r, fields, dyn, all_dyn, allow64)
                for pk, r in rows if pk in want]

    def pk_value(self, c, v):
        """A primary key from a request, of the collection's key type (else 1806)."""
        if c.pk.type == 'Int64':
            if isinstance(v, str):
                try:
                    return int(v, 10)
                except ValueError:
                    pass
            elif isinstance(v, int) and not isinstance(v, bool):
                return v
        elif isinstance(v, str):
            return v
        raise err(CODE_BAD_PK, 'primary key %r does not match the primary '
                  'key type %s' % (v, c.pk.type))

    def delete(self, body, allow64):
        """entities/delete by filter; returns deleteCount."""
        c = self.coll(body)
        get_str(body, 'filter')
        node = self.compile(c, body)
        pname = body.get('partitionName')
        pnames = [pname] if pname else list(c.partitions)
        self.check_partitions(c, pnames)
        n = 0
        for p in pnames:
            rows = c.partitions[p]
            for pk in [pk for pk, r in rows.items() if self.eval_row(node, r)]:
                del rows[pk]
                n += 1
        c.write_seq += 1
        return {'deleteCount': n}

    def search_params(self, body, metric):
        """searchParams flat or nested; metricType must match the index."""
        sp = body.get('searchParams')
        if sp is None:
            sp = {}
        if not isinstance(sp, dict):
            raise err(CODE_INVALID, 'searchParams must be an object')
        nested = sp.get('params') or {}
        if not isinstance(nested, dict):
            raise err(CODE_INVALID, 'searchParams.params must be an object')
        for k, v in sp.items():
            if k in nested and nested[k] != v:
                raise err(CODE_INVALID, 'ambiguous parameter: %s given both '
                          'in searchParams and searchParams.params' % k)
        flat = dict(nested)
        flat.update({k: v for k, v in sp.items() if k != 'params'})
        m = flat.get('metricType', flat.get('metric_type'))
        if m is not None and m != metric:
            raise err(CODE_INVALID, 'metric type not match: invalid '
                      'parameter[expected=%s][actual=%s]' % (metric, m))
        return flat

    def search(self, body, allow64):
        """entities/search: brute force per query vector, flat data plus topks."""
        c = self.coll(body)
        data = body.get('data')
        qids = body.get('ids')
        if data is not None and qids is not None:
            raise err(CODE_INVALID, 'data and ids are mutually exclusive')
        if data is None and qids is None:
            raise err(CODE_MISSING_REQUIRED, 'missing required parameters, '
                      'error: data is required')
        vf = self.anns_field(c, body.get('annsField'))
        ix = c.index_on(vf.name)
        if ix is None:
            raise err(CODE_INDEX_NOT_FOUND, 'index not found[field=%s]'
                      % vf.name)
        metric = ix['metricType']
        params = self.search_params(body, metric)
        if body.get('groupingField'):
            raise err(CODE_INVALID, 'grouping search is not supported by the '
                      'fake server')
        limit, eff, offset = self.window(body)
        node = self.compile(c, body)
        rows = self.rows_in(c, body.get('partitionNames'))
        if qids is not None:
            if not isinstance(qids, list):
                qids = [qids]
            keys = [self.pk_value(c, i) for i in qids]
            by_pk = dict(rows)
            data = []
            for k in keys:
                if k not in by_pk:
                    raise err(CODE_INVALID, 'primary key %s not found' % k)
                data.append(by_pk[k][vf.name])
        if not isinstance(data, list) or not data:
            raise err(CODE_INVALID, 'data must be a non-empty array of '
                      'vectors')
        if len(data) > MAX_NQ:
            raise err(CODE_INVALID, 'nq (%d) exceeds the limit %d'
                      % (len(data), MAX_NQ))
        fields, dyn, all_dyn = self.output_fields(c, body.get('outputFields'),
                                                  False)
        if vf.type == 'FloatVector':
            pos, mat = self.vectors_of(c, vf, rows)
            if node is not None:
                keep = [j for j, i in enumerate(pos)
                        if self.eval_row(node, rows[i][1])]
                pos = [pos[j] for j in keep]
                mat = mat[keep] if keep else mat[:0]
            cand = ([rows[i] for i in pos], mat)
        else:
            cand = [(pk, r) for pk, r in rows
                    if r.get(vf.name) is not None and
                    (node is None or self.eval_row(node, r))]
        radius = params.get('radius')
        range_filter = params.get('range_filter')
        hits_all, topks = [], []
        for q in data:
            hits = self.rank(c, vf, metric, q, cand, radius, range_filter,
                             top=offset + eff)
            page = hits[offset:offset + eff]
            topks.append(len(page))
            for dist, pk, r in page:
                h = self.render(c, r, fields, dyn, all_dyn, allow64)
                h['distance'] = f32_scalar(dist)
                hits_all.append(h)
        return hits_all, {'topks': topks}

    def anns_field(self, c, name):
        """The vector field to search (annsField, or the only one)."""
        vfs = c.vector_fields()
        if name is None or name == '':
            if len(vfs) != 1:
                raise err(CODE_INVALID, 'multiple anns_fields exist, please '
                          'specify an anns_field in search request')
            return vfs[0]
        f = c.by_name.get(name)
        if f is None or f.type not in VECTOR_TYPES:
            raise err(CODE_INVALID, 'failed to get field schema by name: '
                      'fieldName(%s) not found' % name)
        return f

    def rank(self, c, vf, metric, q, cand, radius, range_filter, top=None):
        """Sorted (distance, pk, row), best first, within the range; only the
        first ``top`` when given.  Candidates come in primary-key order, so a
        stable sort breaks ties by primary key."""
        if vf.type == 'FloatVector':
            if isinstance(cand, tuple):
                cand, m = cand
            else:
                m = np.vstack([r[vf.name] for _, r in cand]) \
                    .astype(np.float64) if cand else None
            if not isinstance(q, list) or not all_numbers(q):
                raise err(CODE_INVALID, 'a query vector must be an array of '
                          'numbers')
            if len(q) != vf.dim:
                raise err(CODE_INVALID, 'the dimension of the query vector '
                          '(%d) does not match the field (%d)'
                          % (len(q), vf.dim))
            if not cand:
                return []
            qv = f32_array(q).astype(np.float64)
            if metric == 'L2':
                d = ((m - qv) ** 2).sum(axis=1)
            elif metric == 'IP':
                d = m @ qv
            else:
                norms = np.linalg.norm(m, axis=1) * np.linalg.norm(qv)
                with np.errstate(divide='ignore', invalid='ignore'):
                    d = np.where(norms > 0, (m @ qv) / norms, 0.0)
            d32 = np.asarray(d, dtype=np.float32).astype(np.float64)
            if radius is None and top is not None:
                sign = 1.0 if metric == 'L2' else -1.0
                order = np.argsort(sign * d32, kind='stable')[:top]
                return [(float(d32[i]), cand[i][0], cand[i][1])
                        for i in order]
            dists = d32.tolist()
        else:
            if not isinstance(q, dict):
                raise err(CODE_INVALID, 'a sparse query must be an object')
            qs = {int(k): float(v) for k, v in q.items()}
            dists = [float(np.float32(sum(qs.get(k, 0.0) * v
                                          for k, v in r[vf.name].items())))
                     for _, r in cand]
        out = [(dd, pk, r) for dd, (pk, r) in zip(dists, cand)]
        asc = metric == 'L2'
        if radius is not None:
            rad = float(radius)
            rf = float(range_filter) if range_filter is not None else None
            if asc:
                if rf is not None and not rad > rf:
                    raise err(CODE_INVALID, 'range_filter must be less than '
                              'radius for L2')
                out = [t for t in out if t[0] < rad and
                       (rf is None or t[0] >= rf)]
            else:
                if rf is not None and not rad < rf:
                    raise err(CODE_INVALID, 'range_filter must be greater '
                              'than radius for IP/COSINE')
                out = [t for t in out if t[0] > rad and
                       (rf is None or t[0] <= rf)]
        out.sort(key=lambda t: (t[0] if asc else -t[0], t[1]))
        return out

    def hybrid_search(self, body, allow64):
        """entities/hybrid_search with rrf or weighted reranking."""
        c = self.coll(body)
        subs = body.get('search')
        if not isinstance(subs, list) or not subs:
            raise err(CODE_MISSING_REQUIRED, 'missing required parameters, '
                      'error: search is required')
        rerank = body.get('rerank') or {'strategy': 'rrf', 'params': {}}
        strategy = rerank.get('strategy')
        rparams = rerank.get('params') or {}
        if strategy not in ('rrf', 'weighted'):
            raise err(CODE_INVALID, 'unknown rerank strategy %r' % strategy)
        limit, eff, offset = self.window(body)
        rows = self.rows_in(c, body.get('partitionNames'))
        fused = {}
        weights = rparams.get('weights')
        if strategy == 'weighted':
            if not isinstance(weights, list) or len(weights) != len(subs):
                raise err(CODE_INVALID, 'the number of weights must equal '
                          'the number of sub-searches')
            if rparams.get('norm_score'):
                raise err(CODE_INVALID, 'norm_score is not supported by the '
                          'fake server')
        k = rparams.get('k', 60)
        if strategy == 'rrf' and (not is_number(k) or not 0 < k < 16384):
            raise err(CODE_INVALID, 'rrf k must be in (0, 16384)')
        by_pk = dict(rows)
        for si, sub in enumerate(subs):
            vf = self.anns_field(c, sub.get('annsField'))
            ix = c.index_on(vf.name)
            if ix is None:
                raise err(CODE_INDEX_NOT_FOUND, 'index not found')
            m = sub.get('metricType')
            if m is not None and m != ix['metricType']:
                raise err(CODE_INVALID, 'metric type not match')
            node = self.compile(c, sub)
            sl, seff, soff = self.window(sub)
            cand = [(pk, r) for pk, r in rows if r.get(vf.name) is not None
                    and (node is None or self.eval_row(node, r))]
            data = sub.get('data')
            if not isinstance(data, list) or len(data) != 1:
                raise err(CODE_INVALID, 'each sub-search needs exactly one '
                          'query vector in this fake')
            hits = self.rank(c, vf, ix['metricType'], data[0], cand,
                             None, None)[soff:soff + seff]
            for rank, (dist, pk, r) in enumerate(hits, 1):
                if strategy == 'rrf':
                    add = 1.0 / (k + rank)
                else:
                    add = float(weights[si]) * dist
                fused[pk] = fused.get(pk, 0.0) + add
        order = sorted(fused.items(), key=lambda t: (-t[1], t[0]))
        page = order[offset:offset + eff]
        fields, dyn, all_dyn = self.output_fields(c, body.get('outputFields'),
                                                  False)
        out = []
        for pk, score in page:
            h = self.render(c, by_pk[pk], fields, dyn, all_dyn, allow64)
            h['distance'] = f32_scalar(score)
            out.append(h)
        return out, {'topks': [len(out)]}

    # --- control API ----------------------------------------------------------

    def state_dump(self):
        """Every collection, partition and row for GET /_fake/state."""
        out = {'provider': 'milvus', 'collections': {}}
        for name, c in sorted(self.collections.items()):
            parts = {}
            for p, rows in c.partitions.items():
                lst = []
                for pk in sorted(rows):
                    r = rows[pk]
                    d = {}
                    for f in c.fields:
                        v = r.get(f.name)
                        if f.type == 'FloatVector' and v is not None:
                            v = f32_out(v)
                        elif f.type == 'SparseFloatVector' and v is not None:
                            v = {str(k): x for k, x in sorted(v.items())}
                        elif f.type == 'Int64' and v is not None:
                            v = str(v)
                        d[f.name] = v
                    if c.dynamic:
                        d['$meta'] = r.get('$meta') or {}
                    lst.append(d)
                parts[p] = lst
            out['collections'][name] = {
                'name': name, 'id': str(c.id),
                'fields': [f.describe() for f in c.fields],
                'primary': c.pk.name, 'dynamic': c.dynamic,
                'consistencyLevel': c.consistency,
                'indexes': c.indexes, 'load': c.load_state(),
                'loaded_partitions': sorted(c.loaded),
                'row_count': c.row_count(), 'partitions': parts}
        return out


def check_name(name, what):
    """Collection, partition and field names: letter or underscore first,
    then letters, digits, underscores; at most 255 characters."""
    import re
    if not isinstance(name, str) or \
            not re.match(r'^[A-Za-z_][A-Za-z0-9_]{0,254}$', name):
        raise err(CODE_INVALID, 'invalid %s name %r: the first character '
                  'must be an underscore or a letter, the others letters, '
                  'digits or underscores' % (what, name))


ROUTES = {
    'collections/create': MilvusFake.create_collection,
    'collections/describe': MilvusFake.describe_collection,
    'collections/list': MilvusFake.list_collections,
    'collections/has': MilvusFake.has_collection,
    'collections/drop': MilvusFake.drop_collection,
    'collections/rename': MilvusFake.rename_collection,
    'collections/load': MilvusFake.load_collection,
    'collections/release': MilvusFake.release_collection,
    'collections/get_load_state': MilvusFake.get_load_state,
    'collections/get_stats': MilvusFake.collection_stats,
    'collections/flush': MilvusFake.flush,
    'entities/insert': MilvusFake.insert,
    'entities/upsert': MilvusFake.upsert,
    'entities/delete': MilvusFake.delete,
    'entities/query': MilvusFake.query,
    'entities/get': MilvusFake.get,
    'entities/search': MilvusFake.search,
    'entities/hybrid_search': MilvusFake.hybrid_search,
    'entities/advanced_search': MilvusFake.hybrid_search,
    'partitions/list': MilvusFake.partition_list,
    'partitions/create': MilvusFake.partition_create,
    'partitions/has': MilvusFake.partition_has,
    'partitions/drop': MilvusFake.partition_drop,
    'partitions/load': MilvusFake.partition_load,
    'partitions/release': MilvusFake.partition_release,
    'partitions/get_stats': MilvusFake.partition_stats,
    'indexes/create': MilvusFake.index_create,
    'indexes/describe': MilvusFake.index_describe,
    'indexes/list': MilvusFake.index_list,
    'indexes/drop': MilvusFake.index_drop,
}


def main():
    """Command line: the common options plus --token."""
    args = parse_args('strict fake Milvus REST v2 server',
                      lambda ap: ap.add_argument(
                          '--token', help='require Authorization with this '
                          'token (user:password or an API key); default: '
                          'authorization disabled'))
    core = MilvusFake(args)
    return serve(core, 'milvus')


if __name__ == '__main__':
    sys.exit(main())
