// Offline verification of a credential QR (issue 17; docs/offline.md): the token is a COSE_Sign1-signed CWT (ES256,
// kid in the protected header), checked here with the published keys (/.well-known/jwks.json) and the signed
// status list (/status-list, IETF Token Status List in CWT form), both kept by the service worker. WebCrypto checks
// the P-256 signature (COSE's r||s is the form it takes); the vendored tiny-cbor (npm @levischuck/tiny-cbor 0.3.6,
// MIT, unmodified) reads and writes CBOR. Nothing here is sent anywhere; the page queues what it verified.
import { _ } from "./i18n.js";
import { CBORTag, decodeCBOR, encodeCBOR } from "../vendor/tiny-cbor-0.3.6/cbor.js";

// Claim keys (RFC 8392; draft-ietf-oauth-status-list; our private claim), as webapp/signing/rules.py names them.
const ISS = 1, EXP = 4, NBF = 5, IAT = 6, STATUS = 65535, STATUS_LIST = 65533, CREDENTIAL = -65537;
const ALG = 1, KID = 4, ES256 = -7, SIGN1 = 18;
const SKEW_S = 60;                    // one window of clock skew, as the server allows
const KINDS = { 1: "travel_id", 2: "driving_licence" };
export const KIND_LABELS = { travel_id: _("电子临时乘车身份证明"), driving_licence: _("电子驾驶证") };
const TICKETS = {
  0: _("免费乘车儿童（不满 6 周岁，不单独占用席位）"),
  1: _("儿童优惠票（6 周岁至不满 14 周岁）"),
  2: _("全价票（14 周岁及以上）"),
};
// Reason codes are the API's (stale, bad_signature, …) plus two that only an offline check has.
export const MESSAGES = {
  malformed: _("无法识别的二维码，请扫描随身证页面上的二维码。"),
  bad_signature: _("二维码签名无效，可能被篡改或伪造。"),
  unknown_key: _("二维码的签名密钥不在已发布的密钥中，可能是伪造的二维码。"),
  stale: _("二维码已过期，请让持证人刷新二维码后重新出示（截图无效）。"),
  future: _("二维码时间异常，请核对本机时间，或让持证人刷新二维码后重试。"),
  expired: _("证件已过有效期。"),
  revoked: _("证件已作废。"),
  licence_status: _("驾驶证状态异常（扣留、暂扣、吊销等），不能使用。"),
  status_unknown: _("本机保存的证件状态列表过旧或缺失，无法确认证件是否已被作废，请联网后核验或人工核验。"),
};

const utf8 = new TextDecoder("utf-8", { fatal: true });

export function tokenOf(text) {
  let token = (text || "").trim();
  const at = token.lastIndexOf("/v/");
  if (at >= 0) token = token.slice(at + 3).split("?")[0].split("#")[0];
  return token;
}

function base64url(text) {
  if (!/^[A-Za-z0-9_-]+$/.test(text) || text.length > 1024) throw new Error("not base64url");
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function bytes(value) { if (!(value instanceof Uint8Array)) throw new Error("expected a byte string"); return value; }

// The four parts of a COSE_Sign1 and its protected header (a Map), or an Error.
function sign1(raw) {
  const message = decodeCBOR(raw);
  if (!(message instanceof CBORTag) || message.tag !== SIGN1 || !Array.isArray(message.value)
      || message.value.length !== 4) throw new Error("not a COSE_Sign1");
  const [protectedBytes, , payload, signature] = message.value;
  const header = decodeCBOR(bytes(protectedBytes));
  if (!(header instanceof Map) || header.get(ALG) !== ES256 || !(header.get(KID) instanceof Uint8Array)) {
    throw new Error("not ES256 with a protected kid");
  }
  return { protectedBytes, payload: bytes(payload), signature: bytes(signature), header,
           kid: utf8.decode(header.get(KID)) };
}

async function signatureOk(parts, key) {
  if (parts.signature.length !== 64) return false;
  const toBeSigned = encodeCBOR(["Signature1", parts.protectedBytes, new Uint8Array(0), parts.payload]);
  return crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, parts.signature, toBeSigned);
}

async function inflate(data) {
  const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

// The keys and the status list as fetched (through the service worker, which keeps the last good copies):
// {keys: Map(kid → CryptoKey), status: {iat, bits, lst} | null}. A status list whose signature does not check
// out is treated as missing.
export async function loadTrust(jwksUrl, statusUrl) {
  const keys = new Map();
  let status = null;
  try {
    const jwks = await (await fetch(jwksUrl, { cache: "no-cache", credentials: "omit" })).json();
    for (const jwk of jwks.keys || []) {
      if (jwk.kty !== "EC" || jwk.crv !== "P-256" || !jwk.kid) continue;
      const key = await crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, ext: true },
        { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
      keys.set(jwk.kid, key);
    }
  } catch (err) {
    return { keys, status, error: "keys" };
  }
  try {
    const resp = await fetch(statusUrl, { cache: "no-cache", credentials: "omit" });
    if (resp.ok) {
      const parts = sign1(new Uint8Array(await resp.arrayBuffer()));
      const key = keys.get(parts.kid);
      if (key && await signatureOk(parts, key)) {
        const claims = decodeCBOR(parts.payload);
        const list = claims.get(STATUS_LIST);
        status = { iat: claims.get(IAT), bits: list.get("bits"), lst: await inflate(bytes(list.get("lst"))) };
      }
    }
  } catch (err) {
    status = null;
  }
  return { keys, status };
}

function stateAt(status, idx) {
  const perByte = 8 / status.bits;
  const at = Math.floor(idx / perByte);
  if (at >= status.lst.length) return 0;
  return (status.lst[at] >> ((idx % perByte) * status.bits)) & ((1 << status.bits) - 1);
}

const beijing = (epochS, withDate) => new Date(epochS * 1000).toLocaleString("zh-CN", {
  timeZone: "Asia/Shanghai", hour12: false, hour: "2-digit", minute: "2-digit",
  ...(withDate ? { year: "numeric", month: "2-digit", day: "2-digit" } : {}),
}).replace(/\//g, "-");

export const statusTime = (status) => (status ? beijing(status.iat, false) : null);

// What the token says, for the result card: type, masked name, validity end, ticket category or licence class.
function factsOf(claims, nowS) {
  const [code, name, until, details] = claims.get(CREDENTIAL);
  const kind = KINDS[code];
  const idx = claims.get(STATUS).get("status_list").get("idx");
  if (!kind || typeof name !== "string" || !Number.isInteger(idx) || idx % 2 !== code - 1) {
    throw new Error("not a credential token");
  }
  const facts = { kind, label: KIND_LABELS[kind], name, idx, issuer: claims.get(ISS) };
  if (kind === "travel_id") {
    facts.endS = until;
    facts.validUntilText = beijing(until, true);
    const ticket = Array.isArray(details) ? (nowS < details[1] ? details[0] : details[2]) : details;
    facts.ticket = TICKETS[ticket];
  } else {
    // A licence is valid through its last day (Beijing): the end is the next midnight there.
    facts.endS = until === null ? null : (until + 1) * 86400 - 8 * 3600;
    facts.validUntilText = until === null ? _("长期") : beijing(until * 86400, true).slice(0, 10);
    [facts.licenceClass, facts.licenceStatus] = details;
  }
  return facts;
}

// Verify a scanned text offline at nowMs with trust = loadTrust(...). Returns {verdict: valid|invalid|unknown,
// reason, message, facts, statusAt}; facts only once the signature checked out.
export async function verifyOffline(text, trust, nowMs, statusMaxAgeS) {
  const nowS = nowMs / 1000;
  const statusAt = statusTime(trust.status);
  const fresh = Boolean(trust.status) && nowS - trust.status.iat <= statusMaxAgeS;
  const answer = (verdict, reason, facts = null) => ({
    verdict, reason, facts, statusAt,
    message: verdict === "valid" ? _("有效（离线核验，状态更新于 %(at)s）", {at: statusAt}) : MESSAGES[reason],
  });
  let parts;
  try {
    parts = sign1(base64url(tokenOf(text)));
  } catch (err) {
    return answer("invalid", "malformed");
  }
  const key = trust.keys.get(parts.kid);
  if (!key) {
    // Keys are published ahead of use for as long as a status list stays fresh: with a fresh list, an unknown key is
    // not ours. With an old one this device may simply not have fetched a newer key yet.
    return fresh ? answer("invalid", "unknown_key") : answer("unknown", "status_unknown");
  }
  if (!(await signatureOk(parts, key))) return answer("invalid", "bad_signature");
  let claims, facts;
  try {
    claims = decodeCBOR(parts.payload);
    facts = factsOf(claims, nowS);
  } catch (err) {
    return answer("invalid", "malformed");
  }
  if (nowS < claims.get(NBF) - SKEW_S) return answer("invalid", "future", facts);
  if (nowS >= claims.get(EXP)) return answer("invalid", "stale", facts);
  if (facts.endS !== null && nowS >= facts.endS) return answer("invalid", "expired", facts);
  if (!fresh) return answer("unknown", "status_unknown", facts);
  const state = stateAt(trust.status, facts.idx);
  if (state === 1) return answer("invalid", "revoked", facts);
  if (state !== 0) return answer("invalid", "licence_status", facts);
  return answer("valid", null, facts);
}
