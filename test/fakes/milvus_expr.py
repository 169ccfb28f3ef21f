"""milvus_expr.py: the Milvus boolean filter expression language (spec
section 6) for the fake Milvus server: a tokenizer, a recursive-descent
parser producing a small tree of tuples, and an evaluator over one row.

Supported: integer (decimal, 0x, 0o/0 octal, 0b) and float literals, booleans
in the three spellings, single/double-quoted and raw strings with C escapes,
identifiers, ``$meta``, JSON paths ``f["k"][0]``, comparisons (also chained
ranges ``1 < x <= 5``), ``in``/``not in`` lists, ``like`` with ``%`` and
``_``, ``and/&&/AND``, ``or/||/OR``, ``not/!/NOT``, parentheses,
``is null``/``is not null``, arithmetic ``+ - * / % **``, ``exists f["k"]``,
the ``json_contains*``/``array_contains*``/``array_length`` functions, and
``{name}`` templates bound from ``exprParams``.  Anything else raises
``ExprError`` (the server answers code 1100).

Semantics: a comparison involving a missing value or NULL is false (so
``x != 5`` does not match a NULL ``x``); strings compare byte-wise; a typed
scalar field compared with a literal of another kind is a plan error, as in
Milvus; values inside JSON and dynamic fields are compared at run time and a
kind mismatch is simply false.
"""

import re

KEYWORDS = {
    'and': 'AND', 'AND': 'AND', 'or': 'OR', 'OR': 'OR', 'not': 'NOT',
    'NOT': 'NOT', 'in': 'IN', 'IN': 'IN', 'like': 'LIKE', 'LIKE': 'LIKE',
    'Like': 'LIKE', 'true': 'TRUE', 'True': 'TRUE', 'TRUE': 'TRUE',
    'false': 'FALSE', 'False': 'FALSE', 'FALSE': 'FALSE',
    'exists': 'EXISTS', 'EXISTS': 'EXISTS',
}

FUNCTIONS = ('json_contains', 'json_contains_all', 'json_contains_any',
             'array_contains', 'array_contains_all', 'array_contains_any',
             'array_length', 'JSON_CONTAINS', 'JSON_CONTAINS_ALL',
             'JSON_CONTAINS_ANY', 'ARRAY_CONTAINS', 'ARRAY_CONTAINS_ALL',
             'ARRAY_CONTAINS_ANY', 'ARRAY_LENGTH')

NUMERIC_TYPES = ('Int8', 'Int16', 'Int32', 'Int64', 'Float', 'Double')

TOKEN_RE = re.compile(r'''
    (?P<ws>\s+)
  | (?P<isnotnull>(?:is|IS)\ (?:not|NOT)\ (?:null|NULL)\b)
  | (?P<isnull>(?:is|IS)\ (?:null|NULL)\b)
  | (?P<float>(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+)
  | (?P<int>0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO]?[0-7]+|\d+)
  | (?P<rstr>[rR](?:"(?:[^"])*"|'(?:[^'])*'))
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<ident>\$meta|[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\*\*|==|!=|<=|>=|&&|\|\||<<|>>|[-+*/%<>!()\[\],{}&|^~])
''', re.VERBOSE)


class ExprError(Exception):
    """A filter that does not parse or does not type-check."""


class Missing:
    """The value of an absent field or key (never equal to anything)."""

    def __repr__(self):
        """Readable in debug output."""
        return 'MISSING'


MISSING = Missing()


def unescape(body):
    """C-style escapes of a quoted string literal."""
    out = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != '\\':
            out.append(c)
            i += 1
            continue
        i += 1
        if i >= len(body):
            raise ExprError('dangling backslash in string literal')
        e = body[i]
        simple = {'n': '\n', 't': '\t', 'r': '\r', '\\': '\\', '"': '"',
                  "'": "'", '0': '\0', 'a': '\a', 'b': '\b', 'f': '\f',
                  'v': '\v', '%': '\\%', '_': '\\_'}
        if e in simple:
            out.append(simple[e])
            i += 1
        elif e == 'x':
            out.append(chr(int(body[i + 1:i + 3], 16)))
            i += 3
        elif e == 'u':
            out.append(chr(int(body[i + 1:i + 5], 16)))
            i += 5
        else:
            raise ExprError('unknown escape \\%s in string literal' % e)
    return ''.join(out)


def tokenize(text):
    """List of (kind, value) tokens."""
    toks = []
    pos = 0
    while pos < len(text):
        m = TOKEN_RE.match(text, pos)
        if not m:
            raise ExprError('cannot parse expression: %s, error: unexpected '
                            'character %r at offset %d' % (text, text[pos],
                                                            pos))
        pos = m.end()
        kind = m.lastgroup
        val = m.group()
        if kind == 'ws':
            continue
        if kind == 'int':
            low = val.lower()
            if low.startswith('0x'):
                toks.append(('num', int(val, 16)))
            elif low.startswith('0b'):
                toks.append(('num', int(val[2:], 2)))
            elif low.startswith('0o'):
                toks.append(('num', int(val[2:], 8)))
            elif len(val) > 1 and val.startswith('0'):
                toks.append(('num', int(val, 8)))
            else:
                toks.append(('num', int(val)))
        elif kind == 'float':
            toks.append(('num', float(val)))
        elif kind == 'str':
            toks.append(('str', unescape(val[1:-1])))
        elif kind == 'rstr':
            toks.append(('str', val[2:-1]))
        elif kind == 'ident':
            kw = KEYWORDS.get(val)
            toks.append((kw, val) if kw else ('ident', val))
        elif kind == 'isnull':
            toks.append(('ISNULL', val))
        elif kind == 'isnotnull':
            toks.append(('ISNOTNULL', val))
        else:
            toks.append((val, val))
    toks.append(('EOF', None))
    return toks


class Parser:
    """Recursive descent over the token list; ``schema`` maps a field name
    to its type (None when the collection has no such field)."""

    def __init__(self, text, params, schema, dynamic):
        """Tokenize at once; keep the template values and the schema."""
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.params = params or {}
        self.schema = schema
        self.dynamic = dynamic

    def peek(self, k=0):
        """Kind of the token k ahead."""
        return self.toks[self.i + k][0]

    def take(self, kind=None):
        """Consume a token, checking its kind when given."""
        tok = self.toks[self.i]
        if kind is not None and tok[0] != kind:
            raise ExprError('cannot parse expression: %s, error: expected %s '
                            'near token %d (%r)' % (self.text, kind, self.i,
                                                     tok[1]))
        self.i += 1
        return tok

    def parse(self):
        """The whole filter: one predicate and nothing after it."""
        if self.peek() == 'EOF':
            raise ExprError('cannot parse expression: empty expression')
        node = self.or_expr()
        if self.peek() != 'EOF':
            raise ExprError('cannot parse expression: %s, error: unexpected '
                            'token %r' % (self.text, self.toks[self.i][1]))
        self.check_boolean(node)
        return node

    def check_boolean(self, node):
        """The filter and every operand of and/or/not must be predicates:
        not a number, a string or a non-Bool field."""
        kind = node[0]
        if kind in ('and', 'or'):
            self.check_boolean(node[1])
            self.check_boolean(node[2])
        elif kind == 'not':
            self.check_boolean(node[1])
        elif kind == 'lit':
            if not isinstance(node[1], bool):
                raise ExprError('%r in %s is not a boolean expression'
                                % (node[1], self.text))
        elif kind == 'arith' or (kind == 'func' and node[1] == 'array_length'):
            raise ExprError('%s is not a boolean expression' % self.text)
        elif kind == 'field' and len(node) == 2 and \
                self.schema.get(node[1]) != 'Bool':
            raise ExprError('field %s of type %s is not a boolean expression'
                            % (node[1], self.schema.get(node[1])))

    def or_expr(self):
        """or / || / OR, the loosest binding."""
        node = self.and_expr()
        while self.peek() in ('OR', '||'):
            self.take()
            node = ('or', node, self.and_expr())
        return node

    def and_expr(self):
        """and / && / AND."""
        node = self.not_expr()
        while self.peek() in ('AND', '&&'):
            self.take()
            node = ('and', node, self.not_expr())
        return node

    def not_expr(self):
        """not / ! / NOT (but not the not of not in)."""
        if self.peek() in ('NOT', '!') and self.peek(1) != 'IN':
            self.take()
            return ('not', self.not_expr())
        return self.comparison()

    def comparison(self):
        """Comparisons (chained too), in, not in, like, is [not] null."""
        left = self.arith()
        kind = self.peek()
        if kind in ('==', '!=', '<', '<=', '>', '>='):
            self.take()
            right = self.arith()
            node = ('cmp', kind, left, right)
            self.type_check(node)
            if self.peek() in ('<', '<=', '>', '>=') and \
                    kind in ('<', '<=', '>', '>='):
                op2 = self.take()[0]
                second = ('cmp', op2, right, self.arith())
                self.type_check(second)
                node = ('and', node, second)
            return node
        if kind == 'IN' or (kind == 'NOT' and self.peek(1) == 'IN'):
            negate = kind == 'NOT'
            if negate:
                self.take()
            self.take('IN')
            right = self.arith()
            node = ('in', left, right)
            return ('not', node) if negate else node
        if kind == 'LIKE':
            self.take()
            pat = self.primary()
            if pat[0] != 'lit' or not isinstance(pat[1], str):
                raise ExprError('like needs a string pattern')
            if left[0] == 'field' and self.schema.get(left[1]) not in \
                    (None, 'VarChar', 'JSON', '$meta'):
                raise ExprError('like is only supported on VarChar or JSON '
                                'fields, not %s' % left[1])
            return ('like', left, like_regex(pat[1]))
        if kind == 'ISNULL':
            self.take()
            return ('isnull', left)
        if kind == 'ISNOTNULL':
            self.take()
            return ('not', ('isnull', left))
        return left

    def type_check(self, node):
        """A typed scalar field compared with a literal of another kind is a
        plan error in Milvus."""
        for a, b in ((node[2], node[3]), (node[3], node[2])):
            if a[0] == 'field' and b[0] == 'lit' and len(a) == 2:
                t = self.schema.get(a[1])
                v = b[1]
                if t in NUMERIC_TYPES and not (isinstance(v, (int, float))
                                               and not isinstance(v, bool)):
                    raise ExprError('cannot compare field %s of type %s with '
                                    '%r' % (a[1], t, v))
                if t == 'VarChar' and not isinstance(v, str):
                    raise ExprError('cannot compare field %s of type VarChar '
                                    'with %r' % (a[1], v))
                if t == 'Bool' and not isinstance(v, bool):
                    raise ExprError('cannot compare field %s of type Bool '
                                    'with %r' % (a[1], v))

    def arith(self):
        """Addition and subtraction."""
        node = self.term()
        while self.peek() in ('+', '-'):
            op = self.take()[0]
            node = ('arith', op, node, self.term())
        return node

    def term(self):
        """Multiplication, division, modulo."""
        node = self.power()
        while self.peek() in ('*', '/', '%'):
            op = self.take()[0]
            node = ('arith', op, node, self.power())
        return node

    def power(self):
        """Exponentiation, right-associative."""
        node = self.unary()
        if self.peek() == '**':
            self.take()
            node = ('arith', '**', node, self.power())
        return node

    def unary(self):
        """Unary minus and plus."""
        if self.peek() == '-':
            self.take()
            inner = self.unary()
            if inner[0] == 'lit' and isinstance(inner[1], (int, float)) \
                    and not isinstance(inner[1], bool):
                return ('lit', -inner[1])
            return ('arith', '-', ('lit', 0), inner)
        if self.peek() == '+':
            self.take()
            return self.unary()
        return self.primary()

    def primary(self):
        """Literals, lists, templates, parentheses, exists, functions, fields."""
        kind, val = self.take()
        if kind == 'num' or kind == 'str':
            return ('lit', val)
        if kind == 'TRUE':
            return ('lit', True)
        if kind == 'FALSE':
            return ('lit', False)
        if kind == '(':
            node = self.or_expr()
            self.take(')')
            return node
        if kind == '[':
            items = []
            if self.peek() != ']':
                items.append(self.literal_item())
                while self.peek() == ',':
                    self.take()
                    if self.peek() == ']':
                        break
                    items.append(self.literal_item())
            self.take(']')
            return ('lit', items)
        if kind == '{':
            name = self.take('ident')[1]
            self.take('}')
            if name not in self.params:
                raise ExprError('the placeholder {%s} has no value in '
                                'exprParams' % name)
            return ('lit', self.params[name])
        if kind == 'EXISTS':
            target = self.primary()
            if target[0] != 'field':
                raise ExprError('exists needs a JSON or dynamic field path')
            return ('exists', target)
        if kind == 'ident':
            if val in FUNCTIONS and self.peek() == '(':
                self.take('(')
                args = [self.or_expr()]
                while self.peek() == ',':
                    self.take()
                    args.append(self.or_expr())
                self.take(')')
                return ('func', val.lower(), args)
            return self.field(val)
        raise ExprError('cannot parse expression: %s, error: unexpected token '
                        '%r' % (self.text, val))

    def literal_item(self):
        """An element of a list literal."""
        node = self.unary()
        if node[0] != 'lit':
            raise ExprError('list elements must be literals')
        return node[1]

    def field(self, name):
        """A field, dynamic key or JSON path."""
        path = []
        while self.peek() == '[':
            self.take()
            kind, val = self.take()
            if kind not in ('str', 'num') or isinstance(val, float):
                raise ExprError('JSON path elements must be strings or '
                                'integers')
            self.take(']')
            path.append(val)
        if name == '$meta':
            if not self.dynamic:
                raise ExprError('the dynamic field is not enabled')
            if not path:
                raise ExprError('$meta needs a key')
            return ('field', '$meta', tuple(path))
        if name not in self.schema:
            if not self.dynamic:
                raise ExprError('field %s not exist' % name)
            return ('field', '$meta', (name,) + tuple(path))
        if path:
            if self.schema[name] not in ('JSON', 'Array'):
                raise ExprError('field %s of type %s has no elements'
                                % (name, self.schema[name]))
            return ('field', name, tuple(path))
        return ('field', name)


def like_regex(pattern):
    """SQL-like pattern to an anchored regex; backslash escapes % and _."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == '\\' and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if c == '%':
            out.append('.*')
        elif c == '_':
            out.append('.')
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile('^' + ''.join(out) + '$', re.S)


def compile_filter(text, params, schema, dynamic):
    """Parse ``text``; raise ExprError when it is not a valid filter."""
    return Parser(text, params, schema, dynamic).parse()


def is_num(v):
    """A JSON number (bool is not one)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def value_of(node, row):
    """Evaluate a value node over a row (dict field -> value, '$meta')."""
    kind = node[0]
    if kind == 'lit':
        return node[1]
    if kind == 'field':
        v = row.get(node[1], MISSING)
        if len(node) > 2:
            for key in node[2]:
                if isinstance(v, dict) and isinstance(key, str):
                    v = v.get(key, MISSING)
                elif isinstance(v, list) and isinstance(key, int) and \
                        not isinstance(key, bool):
                    v = v[key] if -len(v) <= key < len(v) else MISSING
                else:
                    return MISSING
        return v
    if kind == 'arith':
        a = value_of(node[2], row)
        b = value_of(node[3], row)
        if not (is_num(a) and is_num(b)):
            return MISSING
        op = node[1]
        try:
            if op == '+':
                return a + b
            if op == '-':
                return a - b
            if op == '*':
                return a * b
            if op == '/':
                return a / b if isinstance(a, float) or \
                    isinstance(b, float) else (a // b if a * b >= 0
                                               else -(-a // b))
            if op == '%':
                return a % b
            if op == '**':
                return a ** b
        except (ZeroDivisionError, OverflowError):
            return MISSING
    if kind == 'func' and node[1] == 'array_length':
        v = value_of(node[2][0], row)
        return len(v) if isinstance(v, list) else MISSING
    return truth(node, row)


def compare(op, a, b):
    """A comparison; False when either side is missing/NULL or kinds differ."""
    if a is MISSING or b is MISSING or a is None or b is None:
        return False
    if is_num(a) and is_num(b):
        pass
    elif isinstance(a, str) and isinstance(b, str):
        a = a.encode('utf-8')
        b = b.encode('utf-8')
    elif isinstance(a, bool) and isinstance(b, bool):
        if op not in ('==', '!='):
            return False
    else:
        return False
    return {'==': a == b, '!=': a != b, '<': a < b, '<=': a <= b,
            '>': a > b, '>=': a >= b}[op]


def contains(seq, item):
    """Whether a list holds a value, by the comparison rules."""
    return any(compare('==', x, item) for x in seq)


def truth(node, row):
    """Evaluate a predicate node over a row."""
    kind = node[0]
    if kind == 'and':
        return truth(node[1], row) and truth(node[2], row)
    if kind == 'or':
        return truth(node[1], row) or truth(node[2], row)
    if kind == 'not':
        return not truth(node[1], row)
    if kind == 'cmp':
        return compare(node[1], value_of(node[2], row),
                       value_of(node[3], row))
    if kind == 'in':
        v = value_of(node[1], row)
        lst = value_of(node[2], row)
        if not isinstance(lst, list):
            raise ExprError('the right side of in must be a list')
        if v is MISSING or v is None:
            return False
        return contains(lst, v)
    if kind == 'like':
        v = value_of(node[1], row)
        return isinstance(v, str) and bool(node[2].match(v))
    if kind == 'isnull':
        v = value_of(node[1], row)
        return v is None or v is MISSING
    if kind == 'exists':
        return value_of(node[1], row) is not MISSING
    if kind == 'lit':
        return node[1] is True
    if kind == 'field':
        return value_of(node, row) is True
    if kind == 'func':
        name, args = node[1], node[2]
        if len(args) != 2:
            raise ExprError('%s takes two arguments' % name)
        seq = value_of(args[0], row)
        arg = value_of(args[1], row)
        if not isinstance(seq, list):
            return False
        if name.endswith('_contains'):
            return contains(seq, arg)
        if not isinstance(arg, list):
            raise ExprError('%s needs a list as second argument' % name)
        if name.endswith('_contains_all'):
            return all(contains(seq, a) for a in arg)
        if name.endswith('_contains_any'):
            return any(contains(seq, a) for a in arg)
    raise ExprError('expression node %s is not a predicate' % kind)
