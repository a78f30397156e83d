//! Who may talk to the server, and the headers every answer carries.
//!
//! One middleware in front of every route, in this order:
//! 1. `Host` must name this server by an IP literal or `localhost` with its port (a DNS
//!    rebinding page reaches us under its own host name): 403 otherwise. A request that changes
//!    something (not GET/HEAD) with an `Origin` of another site is refused too.
//! 2. `?token=T` (the printed URL): the right token gets the cookie and a 303 to the same path
//!    without it, so the token leaves the address bar, the history and every `Referer`; a wrong
//!    one gets 401.
//! 3. Otherwise the cookie or `Authorization: Bearer T`, compared in constant time; 401 without.
//!
//! Nothing here logs a request or echoes the query string.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, WebError};
use crate::state::AppState;

/// The cookie holding the token.
pub const COOKIE: &str = "wiresift_token";

pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// 32 random hex digits.
pub fn new_token() -> Result<String, WebError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| WebError::Random(e.to_string()))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Equality that takes the same time wherever the first difference is.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut d = 0u8;
    for (x, y) in a.iter().zip(b) {
        d |= std::hint::black_box(x ^ y);
    }
    d == 0
}

/// Whether `Host` names this server: `localhost` or an IP literal, with our port.
pub fn host_ok(host: &str, port: u16) -> bool {
    let (name, p) = if let Some(rest) = host.strip_prefix('[') {
        let Some((ip, after)) = rest.split_once(']') else {
            return false;
        };
        if ip.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        match after {
            "" => (None, None),
            a => match a.strip_prefix(':') {
                Some(p) => (None, Some(p)),
                None => return false,
            },
        }
    } else {
        let (h, p) = match host.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host, None),
        };
        (Some(h), p)
    };
    if let Some(h) = name
        && !h.eq_ignore_ascii_case("localhost")
        && h.parse::<std::net::Ipv4Addr>().is_err()
    {
        return false;
    }
    match p {
        None => port == 80,
        Some(p) => p.parse::<u16>().is_ok_and(|p| p == port),
    }
}

/// The token a request carries in its cookie or `Authorization` header, if it is right.
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    for v in headers.get_all(header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for c in v.split(';') {
            if let Some((k, val)) = c.trim().split_once('=')
                && k == COOKIE
                && ct_eq(val.as_bytes(), token.as_bytes())
            {
                return true;
            }
        }
    }
    for v in headers.get_all(header::AUTHORIZATION) {
        let Ok(v) = v.to_str() else { continue };
        if let Some(t) = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
            && ct_eq(t.trim().as_bytes(), token.as_bytes())
        {
            return true;
        }
    }
    false
}

/// The query without its `token` parameters, and the token values given.
fn split_token(query: &str) -> (Vec<&str>, Vec<&str>) {
    let mut keep = Vec::new();
    let mut tokens = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("token", v)) => tokens.push(v),
            None if pair == "token" => tokens.push(""),
            _ if pair.is_empty() => {}
            _ => keep.push(pair),
        }
    }
    (keep, tokens)
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

const LOGIN_PAGE: &str = "wiresift ui: not signed in.\n\nOpen the URL that `wiresift ui` printed when it started \
(http://HOST:PORT/?token=...): it carries the access token.\n";

fn unauthorized(api: bool) -> Response {
    if api {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "not authorized: open the URL printed by `wiresift ui`, or send Authorization: Bearer TOKEN",
        )
        .into_response()
    } else {
        plain(StatusCode::UNAUTHORIZED, LOGIN_PAGE)
    }
}

fn forbidden(api: bool, why: &'static str) -> Response {
    if api {
        ApiError::forbidden(why).into_response()
    } else {
        plain(StatusCode::FORBIDDEN, why)
    }
}

/// Host, origin and token checks (see the module comment), then the security headers.
pub async fn guard(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let mut resp = check(&st, req, next, api).await;
    security_headers(resp.headers_mut(), api);
    resp
}

async fn check(st: &AppState, req: Request, next: Next, api: bool) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !host_ok(host, st.port) {
        return forbidden(
            api,
            "wiresift ui: this server answers only to its own address (Host header refused)\n",
        );
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            let same = origin
                .to_str()
                .ok()
                .and_then(|o| o.strip_prefix("http://"))
                .is_some_and(|o| o.eq_ignore_ascii_case(host));
            if !same {
                return forbidden(api, "cross-origin request refused");
            }
        }
        if let Some(site) = req.headers().get("sec-fetch-site")
            && !matches!(site.as_bytes(), b"same-origin" | b"none")
        {
            return forbidden(api, "cross-site request refused");
        }
    }
    if let Some(q) = req.uri().query() {
        let (keep, tokens) = split_token(q);
        if !tokens.is_empty() {
            if !tokens
                .iter()
                .all(|t| ct_eq(t.as_bytes(), st.token.as_bytes()))
            {
                return unauthorized(api);
            }
            let mut loc = req.uri().path().to_string();
            if !keep.is_empty() {
                loc.push('?');
                loc.push_str(&keep.join("&"));
            }
            let cookie = format!("{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/", st.token);
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::SEE_OTHER;
            if let (Ok(l), Ok(c)) = (HeaderValue::from_str(&loc), HeaderValue::from_str(&cookie)) {
                r.headers_mut().insert(header::LOCATION, l);
                r.headers_mut().insert(header::SET_COOKIE, c);
            } else {
                return ApiError::bad_request("bad request path").into_response();
            }
            return r;
        }
    }
    if !authorized(req.headers(), &st.token) {
        return unauthorized(api);
    }
    next.run(req).await
}

/// Headers on every answer: CSP and friends; `no-store` unless the handler chose a policy.
pub fn security_headers(h: &mut HeaderMap, _api: bool) {
    let set = |h: &mut HeaderMap, k: HeaderName, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    // A handler may have set a stricter policy (objects served from a capture).
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        set(h, header::CONTENT_SECURITY_POLICY, CSP);
    }
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(
        h,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        h,
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, header::CACHE_CONTROL, "no-store");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_32_hex_digits_and_differ() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn constant_time_equality() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(ct_eq(b"", b""));
    }

    #[test]
    fn hosts() {
        assert!(host_ok("127.0.0.1:8090", 8090));
        assert!(host_ok("localhost:8090", 8090));
        assert!(host_ok("LocalHost:8090", 8090));
        assert!(host_ok("[::1]:8090", 8090));
        assert!(host_ok("192.168.1.5:8090", 8090));
        assert!(host_ok("127.0.0.1", 80));
        assert!(!host_ok("127.0.0.1", 8090));
        assert!(!host_ok("127.0.0.1:8091", 8090));
        assert!(!host_ok("evil.example:8090", 8090));
        assert!(!host_ok("localhost.evil.example:8090", 8090));
        assert!(!host_ok("[::1", 8090));
        assert!(!host_ok("[nope]:8090", 8090));
        assert!(!host_ok("", 8090));
        assert!(!host_ok("127.0.0.1:8090:1", 8090));
    }

    #[test]
    fn token_is_taken_out_of_the_query() {
        let (keep, t) = split_token("a=1&token=xyz&b=2");
        assert_eq!(keep, ["a=1", "b=2"]);
        assert_eq!(t, ["xyz"]);
        let (keep, t) = split_token("a=1");
        assert_eq!(keep, ["a=1"]);
        assert!(t.is_empty());
    }
}
