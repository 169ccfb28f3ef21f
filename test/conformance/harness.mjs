// harness.mjs: the tiny check runner shared by pinecone.mjs and milvus.mjs.
//
// Each check prints one JSON line {"ok":bool,"name":...,"detail":...} on
// stdout; the TAP test turns each line into a TAP result.  A failing check
// does not stop the script, so one run reports every mismatch.  The helpers
// fakeGet/fakePost reach the fakes' control API (/_fake/...) directly.

let failures = 0;

// Run fn; ok when it resolves, not ok with the error when it throws.
export async function check(name, fn) {
	try {
		const detail = await fn();
		console.log(JSON.stringify({ ok: true, name, detail: detail === undefined ? '' : String(detail) }));
	} catch (e) {
		failures++;
		console.log(JSON.stringify({ ok: false, name, detail: String(e && e.stack || e) }));
	}
}

// Ok when fn throws an error whose class (or a parent class) is named
// className.
export async function checkThrows(name, className, fn) {
	await check(name, async () => {
		try {
			await fn();
		} catch (e) {
			for (let p = e && Object.getPrototypeOf(e); p; p = Object.getPrototypeOf(p)) {
				if (p.constructor && p.constructor.name === className) return e.name;
			}
			throw new Error(`threw ${e && e.name}: ${e && e.message}, not ${className}`);
		}
		throw new Error(`did not throw (expected ${className})`);
	});
}

// float32 rounding, as both services store values
export function f32(x) {
	return Math.fround(x);
}

// GET a control-API path of a fake, decoded
export async function fakeGet(base, path) {
	const r = await fetch(base + path);
	if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
	return r.json();
}

// POST to a control-API path of a fake, decoded
export async function fakePost(base, path, body) {
	const r = await fetch(base + path, { method: 'POST', body: JSON.stringify(body) });
	if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
	return r.json();
}

// Print the summary line and set the exit status.
export function close() {
	console.log(JSON.stringify({ ok: failures === 0, name: 'script finished', detail: `${failures} failed checks` }));
	process.exitCode = failures ? 1 : 0;
}
