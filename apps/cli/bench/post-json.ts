/** POSTs `body` as JSON under an Idempotency-Key; resolves with the status and the parsed answer (null if none). */
export async function postJson(
  url: string,
  body: unknown,
  key: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key, ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: parseOrText(text) };
}

function parseOrText(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
