// milvus.mjs: drives the fake Milvus server through the official Node SDK's
// REST client (HttpClient of @zilliz/milvus2-sdk-node 3.0.6, pinned in
// package-lock.json) and checks every answer.
//
//   node milvus.mjs <base URL> <token>
//
// Why: the fake is what our C client is tested against, so it must accept
// exactly what the SDK sends (including its text/plain Content-Type and the
// dbName it injects) and answer in the envelope the SDK hands back.  One JSON
// line per check, turned into TAP by test/t/050_fake_conformance.pl.

import { HttpClient } from '@zilliz/milvus2-sdk-node';
import { check, close, f32, fakeGet, fakePost } from './harness.mjs';

const [baseUrl, token] = process.argv.slice(2);
const client = new HttpClient({ endpoint: baseUrl, token });

// Raise unless the envelope says success
function ok(res, what) {
	if (!res || res.code !== 0) throw new Error(`${what}: ${JSON.stringify(res)}`);
	return res.data;
}

function expectCode(res, code, what) {
	if (!res || res.code !== code) throw new Error(`${what}: expected code ${code}, got ${JSON.stringify(res)}`);
	return res.message;
}

function dist(metric, a, b) {
	const x = a.map(f32), y = b.map(f32);
	let dot = 0, na = 0, nb = 0, l2 = 0;
	for (let i = 0; i < x.length; i++) {
		dot += x[i] * y[i];
		na += x[i] * x[i];
		nb += y[i] * y[i];
		l2 += (x[i] - y[i]) ** 2;
	}
	if (metric === 'L2') return l2;
	if (metric === 'IP') return dot;
	return dot / Math.sqrt(na * nb);
}

const rows = [
	{ id: 1, vector: [0.1, 0.2, 0.3, 0.4], title: 'alpha', year: 2020, meta: { lang: 'en' } },
	{ id: 2, vector: [0.4, 0.3, 0.2, 0.1], title: 'beta', year: 2021, meta: { lang: 'de' } },
	{ id: 3, vector: [-1, 0.5, 0.25, 2], title: 'gamma', year: 1999 },
	{ id: 4, vector: [1, -1, 1, -1], title: 'alphabet', year: 2024, color: 'red' },
	{ id: 5, vector: [0.9, 0.8, 0.7, 0.6], title: null, year: 2000 },
];
const q = [0.3, -0.2, 0.5, 0.1];

async function main() {
	const metrics = ['COSINE', 'L2', 'IP'];
	for (const metric of metrics) {
		const name = `c_${metric.toLowerCase()}`;
		await check(`${metric}: create collection with schema and index`, async () => {
			ok(await client.createCollection({
				collectionName: name,
				schema: {
					autoId: false, enableDynamicField: true,
					fields: [
						{ fieldName: 'id', dataType: 'Int64', isPrimary: true },
						{ fieldName: 'vector', dataType: 'FloatVector', elementTypeParams: { dim: 4 } },
						{ fieldName: 'title', dataType: 'VarChar', elementTypeParams: { max_length: 64 }, nullable: true },
						{ fieldName: 'year', dataType: 'Int64' },
					],
				},
				indexParams: [{ fieldName: 'vector', indexName: 'vector', metricType: metric, params: { index_type: 'HNSW', M: '16', efConstruction: '200' } }],
			}), 'create');
		});
		await check(`${metric}: insert 5 rows (dynamic fields, a null)`, async () => {
			const d = ok(await client.insert({ collectionName: name, data: rows }), 'insert');
			if (d.insertCount !== 5 || d.insertIds.join(',') !== '1,2,3,4,5') throw new Error(JSON.stringify(d));
		});
		await check(`${metric}: search distances and order follow the metric`, async () => {
			const res = await client.search({ collectionName: name, data: [q], limit: 5, outputFields: ['title'] });
			const hits = ok(res, 'search');
			const want = rows.map((r) => ({ id: String(r.id), d: dist(metric, q, r.vector) }))
				.sort((a, b) => metric === 'L2' ? a.d - b.d : b.d - a.d);
			if (hits.map((h) => h.id).join(',') !== want.map((w) => w.id).join(','))
				throw new Error(`order ${hits.map((h) => h.id)} want ${want.map((w) => w.id)}`);
			for (let i = 0; i < want.length; i++) {
				if (Math.abs(hits[i].distance - want[i].d) > 1e-6 * Math.max(1, Math.abs(want[i].d)))
					throw new Error(`distance ${hits[i].distance} want ${want[i].d}`);
				if (typeof hits[i].id !== 'string') throw new Error('id is not a string');
			}
			if (!Array.isArray(res.topks) || res.topks[0] !== 5) throw new Error(`topks ${res.topks}`);
			if (hits[0].title === undefined) throw new Error('title not returned');
		});
	}
	const c = 'c_cosine';
	await check('describeCollection shape', async () => {
		const d = ok(await client.describeCollection({ collectionName: c }), 'describe');
		const vec = d.fields.find((f) => f.name === 'vector');
		if (!vec || vec.params.find((p) => p.key === 'dim').value !== '4') throw new Error(JSON.stringify(d.fields));
		if (d.load !== 'LoadStateLoaded' || !d.enableDynamicField) throw new Error(JSON.stringify(d));
		if (d.indexes[0].metricType !== 'COSINE') throw new Error(JSON.stringify(d.indexes));
	});
	await check('listCollections and hasCollection', async () => {
		const l = ok(await client.listCollections(), 'list');
		if (l.slice().sort().join(',') !== 'c_cosine,c_ip,c_l2') throw new Error(l.join(','));
		if (!ok(await client.hasCollection({ collectionName: c }), 'has').has) throw new Error('has false');
		if (ok(await client.hasCollection({ collectionName: 'nope' }), 'has').has) throw new Error('has true');
	});
	await check('getCollectionStatistics counts rows', async () => {
		const s = ok(await client.getCollectionStatistics({ collectionName: c }), 'stats');
		if (s.rowCount !== 5) throw new Error(JSON.stringify(s));
	});
	await check('search with a filter, offset and several query vectors', async () => {
		const res = await client.search({ collectionName: c, data: [q, [1, 1, 1, 1]], limit: 2, offset: 1, filter: 'year >= 2000', outputFields: ['year'] });
		const groups = ok(res, 'search');
		if (res.topks.join(',') !== '2,2' || groups.length !== 2) throw new Error(JSON.stringify(res));
		for (const g of groups) for (const h of g) if (Number(h.year) < 2000) throw new Error('filter ignored');
	});
	await check('search with searchParams of the right metric', async () => {
		ok(await client.search({ collectionName: c, data: [q], limit: 1, searchParams: { metricType: 'COSINE', params: { ef: 64 } } }), 'search');
	});
	await check('search with the wrong metricType is code 1100', async () => {
		expectCode(await client.search({ collectionName: c, data: [q], limit: 1, searchParams: { metricType: 'L2' } }), 1100, 'search');
	});
	await check('search limit+offset above 16384 is code 1100', async () => {
		expectCode(await client.search({ collectionName: c, data: [q], limit: 16384, offset: 1 }), 1100, 'search');
	});
	const queries = [
		['comparison and and', 'year > 2000 and year < 2024', ['1', '2']],
		['in list', 'id in [1, 3, 99]', ['1', '3']],
		['not in', 'id not in [1, 2, 3]', ['4', '5']],
		['like prefix', 'title like "alpha%"', ['1', '4']],
		['or with parentheses and not', '(year == 1999 or year == 2024) and not (id == 4)', ['3']],
		['dynamic JSON field access', 'meta["lang"] == "de"', ['2']],
		['dynamic scalar key', 'color == "red"', ['4']],
		['is null', 'title is null', ['5']],
		['exprParams template', 'year in {years}', ['3', '5']],
		['chained range', '2000 <= year < 2021', ['1', '5']],
	];
	for (const [name, filter, want] of queries) {
		await check(`query: ${name}`, async () => {
			const d = ok(await client.query({ collectionName: c, filter, outputFields: ['id'], exprParams: { years: [1999, 2000] } }), 'query');
			const got = d.map((r) => r.id).sort();
			if (got.join(',') !== want.join(',')) throw new Error(`got ${got} want ${want}`);
		});
	}
	await check('query: an invalid expression is code 1100', async () => {
		expectCode(await client.query({ collectionName: c, filter: 'year >>> 3', outputFields: ['id'] }), 1100, 'query');
	});
	await check('query: count(*)', async () => {
		const d = ok(await client.query({ collectionName: c, filter: 'year > 0', outputFields: ['count(*)'] }), 'count');
		if (d[0]['count(*)'] !== 5) throw new Error(JSON.stringify(d));
	});
	await check('query: outputFields * returns vectors, scalars and dynamic keys', async () => {
		const d = ok(await client.query({ collectionName: c, filter: 'id == 4', outputFields: ['*'] }), 'query');
		const r = d[0];
		if (r.vector.join(',') !== '1,-1,1,-1' || r.title !== 'alphabet' || r.color !== 'red' || r.year !== '2024')
			throw new Error(JSON.stringify(r));
	});
	await check('get by ids', async () => {
		const d = ok(await client.get({ collectionName: c, id: [2, 5, 77], outputFields: ['title'] }), 'get');
		if (d.map((r) => r.id).sort().join(',') !== '2,5') throw new Error(JSON.stringify(d));
	});
	await check('upsert replaces a row', async () => {
		const d = ok(await client.upsert({ collectionName: c, data: [{ id: 2, vector: [0, 0, 1, 0], title: 'beta2', year: 2022 }] }), 'upsert');
		if (d.upsertCount !== 1 || d.upsertIds[0] !== '2') throw new Error(JSON.stringify(d));
		const g = ok(await client.get({ collectionName: c, id: 2 }), 'get');
		if (g[0].title !== 'beta2' || g[0].lang !== undefined && g[0].meta !== undefined) throw new Error(JSON.stringify(g));
	});
	await check('delete by filter returns deleteCount', async () => {
		const d = ok(await client.delete({ collectionName: c, filter: 'id in [3, 4]' }), 'delete');
		if (d.deleteCount !== 2) throw new Error(JSON.stringify(d));
		const s = ok(await client.getCollectionStatistics({ collectionName: c }), 'stats');
		if (s.rowCount !== 3) throw new Error(JSON.stringify(s));
	});
	await check('insert with a wrong dimension is code 1804', async () => {
		expectCode(await client.insert({ collectionName: c, data: [{ id: 9, vector: [1, 2], year: 1 }] }), 1804, 'insert');
	});
	await check('insert without a required field is code 1804', async () => {
		expectCode(await client.insert({ collectionName: c, data: [{ id: 9, vector: [1, 2, 3, 4] }] }), 1804, 'insert');
	});

	// int64 above 2^53 survives only as strings
	const big = '9007199254740993';
	await check('quick-setup collection (Int64, dynamic) is loaded', async () => {
		ok(await client.createCollection({ collectionName: 'quick', dimension: 2, metricType: 'L2' }), 'create');
		const s = ok(await client.getCollectionLoadState({ collectionName: 'quick' }), 'state');
		if (s.loadState !== 'LoadStateLoaded') throw new Error(JSON.stringify(s));
	});
	await check('int64 ids above 2^53 stay exact as strings', async () => {
		const d = ok(await client.insert({ collectionName: 'quick', data: [{ id: big, vector: [1, 2] }, { id: '9007199254740992', vector: [2, 1] }] }), 'insert');
		if (d.insertIds[0] !== big) throw new Error(JSON.stringify(d));
		const g = ok(await client.get({ collectionName: 'quick', id: [big] }), 'get');
		if (g.length !== 1 || g[0].id !== big) throw new Error(JSON.stringify(g));
		const s = ok(await client.search({ collectionName: 'quick', data: [[1, 2]], limit: 1 }), 'search');
		if (s[0].id !== big || s[0].distance !== 0) throw new Error(JSON.stringify(s));
		const qr = ok(await client.query({ collectionName: 'quick', filter: `id == ${big}` }), 'query');
		if (qr.length !== 1 || qr[0].id !== big) throw new Error(JSON.stringify(qr));
	});
	await check('Accept-Type-Allow-Int64: true returns numbers', async () => {
		const c64 = new HttpClient({ endpoint: baseUrl, token, acceptInt64: true });
		const d = ok(await c64.insert({ collectionName: 'quick', data: [{ id: 7, vector: [3, 3] }] }), 'insert');
		if (d.insertIds[0] !== 7) throw new Error(JSON.stringify(d));
	});

	// partitions
	await check('partitions: create, list, has, insert into, search within', async () => {
		ok(await client.createPartition({ collectionName: 'quick', partitionName: 'p1' }), 'create');
		const l = ok(await client.listPartitions({ collectionName: 'quick' }), 'list');
		if (l.join(',') !== '_default,p1') throw new Error(l.join(','));
		if (!ok(await client.hasPartition({ collectionName: 'quick', partitionName: 'p1' }), 'has').has) throw new Error('has');
		ok(await client.insert({ collectionName: 'quick', partitionName: 'p1', data: [{ id: 100, vector: [1, 2] }] }), 'insert');
		const s = ok(await client.search({ collectionName: 'quick', partitionNames: ['p1'], data: [[1, 2]], limit: 5 }), 'search');
		if (s.map((h) => h.id).join(',') !== '100') throw new Error(JSON.stringify(s));
		const st = ok(await client.getPartitionStatistics({ collectionName: 'quick', partitionName: 'p1' }), 'stats');
		if (st.rowCount !== 1) throw new Error(JSON.stringify(st));
	});
	await check('partitions: release, drop', async () => {
		ok(await client.releasePartitions({ collectionName: 'quick', partitionNames: ['p1'] }), 'release');
		ok(await client.dropPartition({ collectionName: 'quick', partitionName: 'p1' }), 'drop');
		const l = ok(await client.listPartitions({ collectionName: 'quick' }), 'list');
		if (l.join(',') !== '_default') throw new Error(l.join(','));
	});
	await check('search in an unknown partition is code 200', async () => {
		expectCode(await client.search({ collectionName: 'quick', partitionNames: ['zz'], data: [[1, 2]] }), 200, 'search');
	});

	// load state
	await check('release then search is code 101; load again works', async () => {
		ok(await client.releaseCollection({ collectionName: 'quick' }), 'release');
		const s = ok(await client.getCollectionLoadState({ collectionName: 'quick' }), 'state');
		if (s.loadState !== 'LoadStateNotLoad') throw new Error(JSON.stringify(s));
		expectCode(await client.search({ collectionName: 'quick', data: [[1, 2]] }), 101, 'search');
		ok(await client.loadCollection({ collectionName: 'quick' }), 'load');
		ok(await client.search({ collectionName: 'quick', data: [[1, 2]] }), 'search');
	});
	await check('an unknown collection is HTTP 200 with code 100', async () => {
		expectCode(await client.describeCollection({ collectionName: 'nope' }), 100, 'describe');
		expectCode(await client.getCollectionLoadState({ collectionName: 'nope' }), 100, 'state');
	});
	await check('indexes: list and describe', async () => {
		const l = ok(await client.listIndexes({ collectionName: c }), 'list');
		if (l.join(',') !== 'vector') throw new Error(l.join(','));
		const d = ok(await client.describeIndex({ collectionName: c, indexName: 'vector' }), 'describe');
		if (d[0].metricType !== 'COSINE' || d[0].indexState !== 'Finished') throw new Error(JSON.stringify(d));
	});
	await check('indexes: drop after release, create again, load', async () => {
		ok(await client.releaseCollection({ collectionName: 'c_ip' }), 'release');
		ok(await client.dropIndex({ collectionName: 'c_ip', indexName: 'vector' }), 'drop');
		expectCode(await client.loadCollection({ collectionName: 'c_ip' }), 700, 'load without index');
		ok(await client.createIndex({ collectionName: 'c_ip', indexParams: [{ fieldName: 'vector', indexName: 'vector', metricType: 'IP', params: { index_type: 'HNSW' } }] }), 'create');
		ok(await client.loadCollection({ collectionName: 'c_ip' }), 'load');
	});
	await check('hybrid search with rrf', async () => {
		const d = ok(await client.hybridSearch({ collectionName: c, search: [{ data: [q], annsField: 'vector', limit: 3 }, { data: [[1, 1, 1, 1]], annsField: 'vector', limit: 3 }], rerank: { strategy: 'rrf', params: { k: 60 } }, limit: 2 }), 'hybrid');
		if (d.length !== 2) throw new Error(JSON.stringify(d));
	});
	await check('a SparseFloatVector field: create, upsert {"<index>": value}, get, sparse search', async () => {
		ok(await client.createCollection({
			collectionName: 'c_sparse',
			schema: {
				autoId: false, enableDynamicField: true,
				fields: [
					{ fieldName: 'pk', dataType: 'Int64', isPrimary: true },
					{ fieldName: 'dense', dataType: 'FloatVector', elementTypeParams: { dim: 2 } },
					{ fieldName: 'sp', dataType: 'SparseFloatVector' },
				],
			},
			indexParams: [
				{ fieldName: 'dense', indexName: 'dense', metricType: 'IP', params: { index_type: 'HNSW' } },
				{ fieldName: 'sp', indexName: 'sp', metricType: 'IP', params: { index_type: 'SPARSE_INVERTED_INDEX' } },
			],
		}), 'create');
		ok(await client.upsert({ collectionName: 'c_sparse', data: [
			{ pk: 1, dense: [1, 0], sp: { 3: 0.5, 4294967295: 0.25 } },
			{ pk: 2, dense: [0, 1], sp: { 7: 2 } }] }), 'upsert');
		const g = ok(await client.get({ collectionName: 'c_sparse', id: [1], outputFields: ['sp'] }), 'get');
		const sp = g[0] && g[0].sp;
		if (!sp || f32(sp['3']) !== f32(0.5) || f32(sp['4294967295']) !== f32(0.25) || Object.keys(sp).length !== 2)
			throw new Error(JSON.stringify(g));
		const s = ok(await client.search({ collectionName: 'c_sparse', data: [{ 7: 1 }], annsField: 'sp', limit: 1 }), 'search');
		if (!s.length || String(s[0].pk ?? s[0].id) !== '2') throw new Error(JSON.stringify(s));
		expectCode(await client.upsert({ collectionName: 'c_sparse', data: [{ pk: 3, dense: [1, 1] }] }), 1804, 'a row without its sparse field');
		ok(await client.dropCollection({ collectionName: 'c_sparse' }), 'drop');
	});
	await check('a scripted 200-with-error envelope reaches the caller unchanged', async () => {
		await fakePost(baseUrl, '/_fake/fault', { mode: 'envelope_error', code: 65535, message: 'scripted', count: 1, path: 'entities/query' });
		const r = await client.query({ collectionName: c, filter: 'id > 0' });
		if (r.code !== 65535 || r.message !== 'scripted') throw new Error(JSON.stringify(r));
	});
	await check('HTTP 401 with a wrong token throws HttpError', async () => {
		const bad = new HttpClient({ endpoint: baseUrl, token: 'root:wrong' });
		try {
			await bad.listCollections();
		} catch (e) {
			if (e.status === 401 && /1800/.test(e.message)) return;
			throw e;
		}
		throw new Error('no error');
	});
	await check('the SDK text/plain Content-Type and dbName are accepted and logged', async () => {
		const log = await fakeGet(baseUrl, '/_fake/requests');
		const e = log.find((x) => x.path.endsWith('/entities/insert'));
		if (!e || e.body.dbName !== 'default') throw new Error(JSON.stringify(e));
		if (e.headers.authorization !== '***') throw new Error('token not masked');
	});
	await check('fake state holds the rows the SDK wrote', async () => {
		const st = await fakeGet(baseUrl, '/_fake/state');
		const rowsNow = st.collections.quick.partitions._default.map((r) => r.id).sort();
		if (rowsNow.join(',') !== `7,${'9007199254740992'},${big}`) throw new Error(rowsNow.join(','));
	});
	await check('rename and drop collection', async () => {
		ok(await client.renameCollection({ collectionName: 'c_l2', newCollectionName: 'c_l2b' }), 'rename');
		ok(await client.dropCollection({ collectionName: 'c_l2b' }), 'drop');
		const l = ok(await client.listCollections(), 'list');
		if (l.includes('c_l2b') || l.includes('c_l2')) throw new Error(l.join(','));
	});
	close();
}

main().catch((e) => { console.log(JSON.stringify({ ok: false, name: 'script finished', detail: String(e && e.stack || e) })); process.exit(1); });
