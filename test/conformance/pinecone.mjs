// pinecone.mjs: drives the fake Pinecone server through the official
// TypeScript SDK (@pinecone-database/pinecone 9.0.0, pinned in
// package-lock.json) and checks every answer.
//
//   node pinecone.mjs <control-plane URL> <api key>
//
// Why: the fake is what our C client is tested against, so it must accept
// exactly what the real SDK sends and answer what the real SDK parses.  Each
// check prints one JSON line {"ok":bool,"name":...,"detail":...}; the TAP
// test (test/t/050_fake_conformance.pl) turns them into TAP lines.  The
// script never stops at a failed check, so one run reports every mismatch.

import { Pinecone } from '@pinecone-database/pinecone';
import { check, checkThrows, close, f32, fakeGet, fakePost } from './harness.mjs';

const [controlUrl, apiKey] = process.argv.slice(2);

// Local reference of each metric on float32-rounded inputs
function score(metric, a, b) {
	const x = a.map(f32), y = b.map(f32);
	let dot = 0, na = 0, nb = 0, l2 = 0;
	for (let i = 0; i < x.length; i++) {
		dot += x[i] * y[i];
		na += x[i] * x[i];
		nb += y[i] * y[i];
		l2 += (x[i] - y[i]) ** 2;
	}
	if (metric === 'euclidean') return l2;
	if (metric === 'dotproduct') return dot;
	return dot / Math.sqrt(na * nb);
}

const records = [
	{ id: 'doc1#a', values: [0.1, 0.2, 0.3], metadata: { genre: 'drama', year: 2020, tags: ['x', 'y'], draft: false } },
	{ id: 'doc1#b', values: [0.3, 0.2, 0.1], metadata: { genre: 'comedy', year: 2021, tags: ['y'] } },
	{ id: 'doc2#c', values: [-0.5, 0.25, 1.5], metadata: { genre: 'drama', year: 1999 } },
	{ id: 'vec b/2', values: [1.0, -1.0, 0.5], metadata: { genre: 'news', year: 2024, tags: ['z'] } },
	{ id: 'doc3', values: [0.9, 0.8, -0.7] },
];
const qvec = [0.2, -0.1, 0.4];

async function main() {
	const pc = new Pinecone({ apiKey, controllerHostUrl: controlUrl });

	// --- control plane -------------------------------------------------
	const metrics = ['cosine', 'euclidean', 'dotproduct'];
	for (const metric of metrics) {
		await check(`createIndex ${metric} (waitUntilReady)`, async () => {
			const m = await pc.createIndex({
				name: `idx-${metric}`, dimension: 3, metric,
				spec: { serverless: { cloud: 'aws', region: 'us-east-1' } },
				waitUntilReady: true,
			});
			if (m && m.name !== `idx-${metric}`) throw new Error(`name ${m.name}`);
		});
	}
	await checkThrows('createIndex with an existing name is a conflict', 'PineconeConflictError', () =>
		pc.createIndex({ name: 'idx-cosine', dimension: 3, metric: 'cosine', spec: { serverless: { cloud: 'aws', region: 'us-east-1' } } }));
	await check('createIndex suppressConflicts accepts the 409', async () => {
		await pc.createIndex({ name: 'idx-cosine', dimension: 3, metric: 'cosine', suppressConflicts: true,
			spec: { serverless: { cloud: 'aws', region: 'us-east-1' } } });
	});
	await check('describeIndex returns the http host, dimension and metric', async () => {
		const m = await pc.describeIndex('idx-euclidean');
		if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(m.host)) throw new Error(`host ${m.host}`);
		const v = m.schema?.fields?._values;
		if (!v || v.dimension !== 3 || v.metric !== 'euclidean') throw new Error(JSON.stringify(m.schema));
		if (!m.status?.ready) throw new Error('not ready');
		return m.host;
	});
	await check('listIndexes lists the three indexes', async () => {
		const l = await pc.listIndexes();
		const names = (l.indexes || []).map((i) => i.name).sort();
		if (names.join(',') !== 'idx-cosine,idx-dotproduct,idx-euclidean') throw new Error(names.join(','));
	});
	await checkThrows('describeIndex of an unknown index is NotFound', 'PineconeNotFoundError', () => pc.describeIndex('nope'));

	// --- data plane per metric -------------------------------------------
	for (const metric of metrics) {
		const index = pc.index({ name: `idx-${metric}` });
		await check(`${metric}: upsert 5 records into ns1`, async () => {
			await index.upsert({ records, namespace: 'ns1' });
		});
		await check(`${metric}: query scores and order follow the metric`, async () => {
			const r = await index.query({ vector: qvec, topK: 5, namespace: 'ns1' });
			const want = records.map((rec) => ({ id: rec.id, s: score(metric, qvec, rec.values) }))
				.sort((a, b) => metric === 'euclidean' ? a.s - b.s : b.s - a.s);
			const got = r.matches.map((m) => m.id);
			if (got.join('|') !== want.map((w) => w.id).join('|'))
				throw new Error(`order ${got.join('|')} want ${want.map((w) => w.id).join('|')}`);
			for (let i = 0; i < want.length; i++) {
				const d = Math.abs(r.matches[i].score - want[i].s);
				if (d > 1e-6 * Math.max(1, Math.abs(want[i].s)))
					throw new Error(`score of ${want[i].id}: ${r.matches[i].score} want ${want[i].s}`);
				if (r.matches[i].metadata !== undefined) throw new Error('metadata without includeMetadata');
				if (r.matches[i].values && r.matches[i].values.length) throw new Error('values without includeValues');
			}
			if (r.namespace !== 'ns1') throw new Error(`namespace ${r.namespace}`);
		});
	}

	const index = pc.index({ name: 'idx-cosine' });
	await check('query topK=2 with includeValues and includeMetadata', async () => {
		const r = await index.query({ vector: qvec, topK: 2, namespace: 'ns1', includeValues: true, includeMetadata: true });
		if (r.matches.length !== 2) throw new Error(`${r.matches.length} matches`);
		const m = r.matches.find((x) => x.id === 'vec b/2');
		if (!m) throw new Error('vec b/2 not among the best two');
		if (m.values.join(',') !== '1,-1,0.5') throw new Error(`values ${m.values}`);
		if (m.metadata.genre !== 'news') throw new Error(JSON.stringify(m.metadata));
	});
	await check('query by id', async () => {
		const r = await index.query({ id: 'doc1#a', topK: 1, namespace: 'ns1' });
		if (r.matches[0].id !== 'doc1#a' || Math.abs(r.matches[0].score - 1) > 1e-6) throw new Error(JSON.stringify(r.matches));
	});
	const filters = [
		['$eq shorthand', { genre: 'drama' }, ['doc1#a', 'doc2#c']],
		['$ne (missing field matches)', { genre: { $ne: 'drama' } }, ['doc1#b', 'doc3', 'vec b/2']],
		['$gt', { year: { $gt: 2020 } }, ['doc1#b', 'vec b/2']],
		['$gte/$lte', { year: { $gte: 1999, $lte: 2020 } }, ['doc1#a', 'doc2#c']],
		['$lt', { year: { $lt: 2000 } }, ['doc2#c']],
		['$in', { genre: { $in: ['comedy', 'news'] } }, ['doc1#b', 'vec b/2']],
		['$nin', { genre: { $nin: ['comedy', 'news'] } }, ['doc1#a', 'doc2#c', 'doc3']],
		['$exists', { tags: { $exists: true } }, ['doc1#a', 'doc1#b', 'vec b/2']],
		['list field $eq (any element)', { tags: 'y' }, ['doc1#a', 'doc1#b']],
		['$and on a list field', { $and: [{ tags: 'x' }, { tags: 'y' }] }, ['doc1#a']],
		['$or', { $or: [{ genre: 'news' }, { year: 1999 }] }, ['doc2#c', 'vec b/2']],
		['boolean $eq', { draft: false }, ['doc1#a']],
	];
	for (const [name, filter, want] of filters) {
		await check(`filter ${name}`, async () => {
			const r = await index.query({ vector: qvec, topK: 10, namespace: 'ns1', filter });
			const got = r.matches.map((m) => m.id).sort();
			if (got.join('|') !== want.join('|')) throw new Error(`got ${got.join('|')} want ${want.join('|')}`);
		});
	}
	await checkThrows('filter $gt with a string is a bad request', 'PineconeBadRequestError', () =>
		index.query({ vector: qvec, topK: 1, namespace: 'ns1', filter: { year: { $gt: 'x' } } }));
	await checkThrows('filter with an array as bare value is a bad request', 'PineconeBadRequestError', () =>
		index.query({ vector: qvec, topK: 1, namespace: 'ns1', filter: { genre: ['a', 'b'] } }));
	await checkThrows('unknown filter operator is a bad request', 'PineconeBadRequestError', () =>
		index.query({ vector: qvec, topK: 1, namespace: 'ns1', filter: { genre: { $regex: 'a' } } }));
	await checkThrows('topK 10001 is a bad request', 'PineconeBadRequestError', () =>
		index.query({ vector: qvec, topK: 10001, namespace: 'ns1' }));
	await checkThrows('dimension mismatch on upsert is a bad request', 'PineconeBadRequestError', () =>
		index.upsert({ records: [{ id: 'bad', values: [1, 2] }], namespace: 'ns1' }));
	await checkThrows('all-zero vector is a bad request', 'PineconeBadRequestError', () =>
		index.upsert({ records: [{ id: 'zero', values: [0, 0, 0] }], namespace: 'ns1' }));
	await checkThrows('nested metadata is a bad request', 'PineconeBadRequestError', () =>
		index.upsert({ records: [{ id: 'nest', values: [1, 2, 3], metadata: { a: { b: 1 } } }], namespace: 'ns1' }));

	await check('fetch with ids containing a space, a slash and a hash', async () => {
		const r = await index.fetch({ ids: ['vec b/2', 'doc1#a', 'missing'], namespace: 'ns1' });
		const keys = Object.keys(r.records).sort();
		if (keys.join('|') !== 'doc1#a|vec b/2') throw new Error(keys.join('|'));
		if (r.records['vec b/2'].metadata.genre !== 'news') throw new Error('metadata');
		if (r.records['doc1#a'].values.join(',') !== '0.1,0.2,0.3') throw new Error(`values ${r.records['doc1#a'].values}`);
	});
	await check('listPaginated with a prefix pages by 2 in byte order', async () => {
		const p1 = await index.listPaginated({ prefix: 'doc', limit: 2, namespace: 'ns1' });
		const ids1 = p1.vectors.map((v) => v.id);
		if (ids1.join('|') !== 'doc1#a|doc1#b') throw new Error(ids1.join('|'));
		if (!p1.pagination?.next) throw new Error('no pagination token on the first page');
		const p2 = await index.listPaginated({ prefix: 'doc', limit: 2, namespace: 'ns1', paginationToken: p1.pagination.next });
		const ids2 = p2.vectors.map((v) => v.id);
		if (ids2.join('|') !== 'doc2#c|doc3') throw new Error(ids2.join('|'));
		const p3 = p2.pagination?.next ? await index.listPaginated({ prefix: 'doc', limit: 2, namespace: 'ns1', paginationToken: p2.pagination.next }) : null;
		if (p3 && (p3.vectors.length || p3.pagination)) throw new Error('a third page with content');
	});
	await check('listPaginated last page has no pagination', async () => {
		const p = await index.listPaginated({ namespace: 'ns1' });
		if (p.vectors.length !== 5 || p.pagination) throw new Error(JSON.stringify(p));
	});
	await check('fetchByMetadata', async () => {
		const r = await index.fetchByMetadata({ filter: { genre: 'drama' }, namespace: 'ns1' });
		const keys = Object.keys(r.records).sort();
		if (keys.join('|') !== 'doc1#a|doc2#c') throw new Error(keys.join('|'));
	});
	await check('update merges metadata and replaces values', async () => {
		await index.update({ id: 'doc1#b', metadata: { genre: 'satire', rating: 5 }, namespace: 'ns1' });
		await index.update({ id: 'doc3', values: [0.5, 0.5, 0.5], namespace: 'ns1' });
		const r = await index.fetch({ ids: ['doc1#b', 'doc3'], namespace: 'ns1' });
		const md = r.records['doc1#b'].metadata;
		if (md.genre !== 'satire' || md.rating !== 5 || md.year !== 2021) throw new Error(JSON.stringify(md));
		if (r.records.doc3.values.join(',') !== '0.5,0.5,0.5') throw new Error('values');
	});
	await check('update by filter', async () => {
		await index.update({ filter: { genre: 'drama' }, metadata: { flagged: true }, namespace: 'ns1' });
		const r = await index.query({ vector: qvec, topK: 10, namespace: 'ns1', filter: { flagged: true } });
		if (r.matches.length !== 2) throw new Error(`${r.matches.length} flagged`);
	});
	await check('update of a missing id succeeds', async () => {
		await index.update({ id: 'no-such-id', metadata: { a: 1 }, namespace: 'ns1' });
	});

	await check('namespaces: default "" and "__default__" are the same', async () => {
		await index.upsert({ records: [{ id: 'd1', values: [1, 2, 3] }] });
		await index.namespace('__default__').upsert({ records: [{ id: 'd2', values: [3, 2, 1] }] });
		await index.namespace('').upsert({ records: [{ id: 'd3', values: [2, 2, 2] }] });
		const r = await index.namespace('').fetch({ ids: ['d1', 'd2', 'd3'] });
		if (Object.keys(r.records).length !== 3) throw new Error(Object.keys(r.records).join(','));
		const s = await index.describeIndexStats();
		if (s.namespaces[''].recordCount !== 3) throw new Error(JSON.stringify(s.namespaces));
		if (s.namespaces.ns1.recordCount !== 5) throw new Error(JSON.stringify(s.namespaces));
		if (s.totalRecordCount !== 8 || s.dimension !== 3) throw new Error(JSON.stringify(s));
	});
	await check('deleteOne, deleteMany by ids and by filter', async () => {
		await index.deleteOne({ id: 'doc3', namespace: 'ns1' });
		await index.deleteMany({ ids: ['doc1#a', 'nope'], namespace: 'ns1' });
		await index.deleteMany({ filter: { genre: 'news' }, namespace: 'ns1' });
		const p = await index.listPaginated({ namespace: 'ns1' });
		const ids = p.vectors.map((v) => v.id);
		if (ids.join('|') !== 'doc1#b|doc2#c') throw new Error(ids.join('|'));
	});
	await check('deleteAll empties the namespace', async () => {
		await index.deleteAll({ namespace: 'ns1' });
		const s = await index.describeIndexStats();
		if (s.namespaces.ns1) throw new Error(JSON.stringify(s.namespaces));
	});
	await check('fake state matches what the SDK wrote', async () => {
		const st = await fakeGet(controlUrl, '/_fake/state');
		const ns = st.indexes['idx-cosine'].namespaces[''];
		if (Object.keys(ns).sort().join(',') !== 'd1,d2,d3') throw new Error(JSON.stringify(ns));
	});
	await check('the SDK sends the 2026-07 version header and the Api-Key', async () => {
		const log = await fakeGet(controlUrl, '/_fake/requests');
		if (!log.length) throw new Error('empty log');
		for (const e of log) {
			if (e.headers['x-pinecone-api-version'] !== '2026-07') throw new Error(`${e.path}: ${e.headers['x-pinecone-api-version']}`);
			if (e.headers['api-key'] !== '***') throw new Error('Api-Key not masked');
		}
	});

	// --- sparse and hybrid -------------------------------------------------------
	await check('sparse index: create, upsert sparse values, query by sparseVector', async () => {
		await pc.createIndex({ name: 'idx-sparse', metric: 'dotproduct', vectorType: 'sparse',
			spec: { serverless: { cloud: 'aws', region: 'us-east-1' } }, waitUntilReady: true });
		const m = await pc.describeIndex('idx-sparse');
		if (m.schema?.fields?._values) throw new Error(JSON.stringify(m.schema));
		const sp = pc.index({ name: 'idx-sparse' });
		await sp.upsert({ records: [
			{ id: 's1', sparseValues: { indices: [1, 7], values: [0.5, 0.25] } },
			{ id: 's2', sparseValues: { indices: [7, 9], values: [2, 1] } }] });
		const r = await sp.query({ sparseVector: { indices: [7], values: [4] }, topK: 2 });
		const got = r.matches.map((x) => `${x.id}:${x.score}`).join(',');
		if (got !== 's2:8,s1:1') throw new Error(got);
		await pc.deleteIndex('idx-sparse');
	});
	await check('hybrid query on a dotproduct index adds the sparse part', async () => {
		const dp = pc.index({ name: 'idx-dotproduct' });
		await dp.upsert({ namespace: 'hy', records: [
			{ id: 'h1', values: [1, 0, 0], sparseValues: { indices: [3], values: [2] } },
			{ id: 'h2', values: [0, 1, 0] }] });
		const r = await dp.query({ namespace: 'hy', vector: [1, 1, 0], sparseVector: { indices: [3], values: [0.5] }, topK: 2, includeValues: true });
		const got = r.matches.map((x) => `${x.id}:${x.score}`).join(',');
		if (got !== 'h1:2,h2:1') throw new Error(got);
		if (!r.matches[0].sparseValues || r.matches[0].sparseValues.indices[0] !== 3) throw new Error(JSON.stringify(r.matches[0]));
	});
	await checkThrows('sparse values on a cosine index are a bad request', 'PineconeBadRequestError', () =>
		index.upsert({ records: [{ id: 'sp', values: [1, 2, 3], sparseValues: { indices: [1], values: [1] } }] }));

	// --- errors and retries ---------------------------------------------------
	await check('503 twice: the SDK retries and succeeds', async () => {
		await fakePost(controlUrl, '/_fake/reset_log', {});
		await fakePost(controlUrl, '/_fake/fault', { mode: 'status', status: 503, count: 2, path: '^/query$' });
		const r = await index.query({ vector: qvec, topK: 1 });
		if (r.matches.length !== 1) throw new Error('no match');
		const log = (await fakeGet(controlUrl, '/_fake/requests')).filter((e) => e.path === '/query');
		if (log.length !== 3) throw new Error(`${log.length} query requests`);
	});
	await check('429 is not retried by the SDK and surfaces as an error', async () => {
		await fakePost(controlUrl, '/_fake/reset_log', {});
		await fakePost(controlUrl, '/_fake/fault', { mode: 'status', status: 429, count: 1, path: '^/query$', retry_after: 1 });
		let threw = false;
		try { await index.query({ vector: qvec, topK: 1 }); } catch (e) { threw = true; }
		const log = (await fakeGet(controlUrl, '/_fake/requests')).filter((e) => e.path === '/query');
		if (!threw || log.length !== 1) throw new Error(`threw=${threw} requests=${log.length}`);
	});
	await checkThrows('a wrong API key is an authorization error', 'PineconeAuthorizationError', () =>
		new Pinecone({ apiKey: 'wrong', controllerHostUrl: controlUrl }).listIndexes());

	await check('configureIndex enables deletion protection', async () => {
		const m = await pc.configureIndex({ name: 'idx-dotproduct', deletionProtection: 'enabled' });
		if (m.deletionProtection !== 'enabled' && m.deletion_protection !== 'enabled') throw new Error(JSON.stringify(m));
	});
	await checkThrows('deleteIndex of a protected index is refused', 'BasePineconeError', () => pc.deleteIndex('idx-dotproduct'));
	await check('deleteIndex after disabling protection', async () => {
		await pc.configureIndex({ name: 'idx-dotproduct', deletionProtection: 'disabled' });
		await pc.deleteIndex('idx-dotproduct');
		await pc.deleteIndex('idx-euclidean');
		const l = await pc.listIndexes();
		const names = (l.indexes || []).map((i) => i.name);
		if (names.join(',') !== 'idx-cosine') throw new Error(names.join(','));
	});
	close();
}

main().catch((e) => { console.log(JSON.stringify({ ok: false, name: 'script finished', detail: String(e && e.stack || e) })); process.exit(1); });
