//! The accept loop, the modes, tunnels (intercepted or passed through) and the HTTP service that
//! forwards each request through the pooled upstream client.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Body, Incoming};
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use wiresift_filter::Filter;

use crate::ca::{Authority, FixedCert};
use crate::connector::{self, Connector, UpInfo, UpstreamProxy, bare_host};
use crate::flow::{self, BoxError, Flow, Recorder, Side, Tap};
use crate::pcap::{Conv, PcapSink};
use crate::tls::{
    self, HandshakeFailure, KeyLogFile, KeyLogger, PassReason, PassThrough, Prefixed, SecretSink,
};
use crate::{Config, Mode, ProxyError, socks, ws};

type PBody = UnsyncBoxBody<Bytes, BoxError>;

/// Server configurations (leaf + ALPN + key log) kept per host.
const SERVER_CFG_CACHE: usize = 4096;

/// What a run did.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub connections: u64,
    pub flows: u64,
}

struct Shared {
    cfg: Config,
    ca: Arc<Authority>,
    provider: Arc<CryptoProvider>,
    server_cfgs: Mutex<HashMap<(String, bool), Arc<ServerConfig>>>,
    client: Client<Connector, PBody>,
    /// HTTP/1.1 only upstream (upgrades such as WebSocket).
    client_h1: Client<Connector, PBody>,
    via: Option<UpstreamProxy>,
    rec: Arc<Recorder>,
    pass: PassThrough,
    key_log: Arc<KeyLogger>,
    conn_ids: AtomicU64,
    warned: Mutex<HashSet<String>>,
    peers: Mutex<HashMap<String, IpAddr>>,
}

#[derive(Clone)]
struct Ctx {
    client: SocketAddr,
    local: SocketAddr,
    conn_id: u64,
    tls: bool,
    /// CONNECT or SOCKS5 target: where the requests of this connection go.
    target: Option<(String, u16)>,
}

fn body_text(status: StatusCode, msg: String) -> Response<PBody> {
    let mut r = Response::new(
        Full::new(Bytes::from(msg))
            .map_err(|e| match e {})
            .boxed_unsync(),
    );
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn empty() -> PBody {
    Empty::<Bytes>::new().map_err(|e| match e {}).boxed_unsync()
}

/// The error and all its causes, e.g. "client error (Connect): TLS handshake with h:443 failed:
/// invalid peer certificate: UnknownIssuer".
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(x) = cur {
        let s = x.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = x.source();
    }
    parts.join(": ")
}

const HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Removes hop-by-hop headers (those named in `Connection` too); keeps the upgrade pair when
/// relaying an upgrade.
fn strip_hop(h: &mut HeaderMap, keep_upgrade: bool) {
    let listed: Vec<HeaderName> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for n in listed {
        if keep_upgrade && n == header::UPGRADE {
            continue;
        }
        h.remove(n);
    }
    for n in HOP {
        if keep_upgrade && (n == "connection" || n == "upgrade") {
            continue;
        }
        h.remove(n);
    }
    if keep_upgrade {
        h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
}

fn default_port(https: bool) -> u16 {
    if https { 443 } else { 80 }
}

fn authority_of(host: &str, port: u16, https: bool) -> String {
    let h = if bare_host(host).contains(':') {
        format!("[{}]", bare_host(host))
    } else {
        host.to_string()
    };
    if port == default_port(https) {
        h
    } else {
        format!("{h}:{port}")
    }
}

/// Splits an authority into host and port.
fn host_port(a: &http::uri::Authority, default: u16) -> (String, u16) {
    (a.host().to_string(), a.port_u16().unwrap_or(default))
}

/// Runs the proxy until SIGINT/SIGTERM (or `run_for`). Builds its own runtime.
pub fn run(cfg: Config) -> Result<Stats, ProxyError> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if cfg.threads > 0 {
        b.worker_threads(cfg.threads);
    }
    let rt = b
        .enable_all()
        .build()
        .map_err(|e| ProxyError::Io(format!("runtime: {e}")))?;
    rt.block_on(run_async(cfg))
}

async fn run_async(cfg: Config) -> Result<Stats, ProxyError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (ca, created) = Authority::load_or_create(&cfg.confdir, &provider)?;
    let ca = Arc::new(ca);

    let mut sinks: Vec<Arc<dyn SecretSink>> = Vec::new();
    if let Some(k) = &cfg.keylog {
        sinks.push(Arc::new(KeyLogFile::open(k)?));
    }
    let pcap = match &cfg.pcap {
        Some(p) => Some(Arc::new(PcapSink::create(p)?)),
        None => None,
    };
    if let Some(p) = &pcap {
        sinks.push(p.clone());
    }
    let key_log = Arc::new(KeyLogger { sinks });
    let kl: Option<Arc<dyn rustls::KeyLog>> = if key_log.sinks.is_empty() {
        None
    } else {
        Some(key_log.clone())
    };

    let mut extra = Vec::new();
    for p in &cfg.upstream_ca {
        extra.extend(crate::ca::pem_certs(p)?);
    }
    let alpn: Vec<Vec<u8>> = if cfg.http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    let (up, roots) =
        tls::upstream_config(provider.clone(), cfg.insecure, &extra, alpn, kl.clone())?;
    let (up1, _) = tls::upstream_config(
        provider.clone(),
        cfg.insecure,
        &extra,
        vec![b"http/1.1".to_vec()],
        kl.clone(),
    )?;
    let via = match &cfg.mode {
        Mode::Upstream { host, port } => Some(UpstreamProxy {
            host: host.clone(),
            port: *port,
        }),
        _ => None,
    };
    let mk_client = |c: rustls::ClientConfig| {
        Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            .http2_max_header_list_size(cfg.max_header_bytes.max(16 * 1024) as u32)
            .build(Connector {
                tls: TlsConnector::from(Arc::new(c)),
                via: via.clone(),
            })
    };
    let client = mk_client(up);
    let client_h1 = mk_client(up1);

    let filter = match &cfg.filter {
        Some(f) => Some(
            Filter::compile(f, &flow::registry())
                .map_err(|e| ProxyError::Usage(format!("-Y {f}: {e}")))?,
        ),
        None => None,
    };
    let har = match &cfg.har {
        Some(p) => {
            let mut w = Recorder::open_har(p)?;
            w.max_body = cfg.har_max_body;
            Some(Mutex::new(Some(w)))
        }
        None => None,
    };
    let rec = Arc::new(Recorder {
        quiet: cfg.quiet,
        filter,
        har,
        har_cap: cfg.har_max_body,
        pcap,
        out: Mutex::new(Box::new(io::stdout())),
        flows: AtomicU64::new(0),
    });
    let pass = PassThrough::new(&cfg.ignore_hosts, &cfg.allow_hosts, cfg.passthrough_ttl)?;

    let listener = TcpListener::bind(cfg.listen)
        .await
        .map_err(|err| ProxyError::Listen {
            addr: cfg.listen,
            err,
        })?;
    let addr = listener.local_addr().unwrap_or(cfg.listen);
    eprintln!(
        "wiresift proxy: {} mode, listening on {addr}; CA {} ({})",
        cfg.mode.name(),
        cfg.confdir.join(crate::ca::CERT_FILE).display(),
        if created { "created" } else { "loaded" }
    );
    if !cfg.insecure && roots == 0 {
        eprintln!(
            "wiresift proxy: no trusted root certificates found on this system; upstream TLS will fail (use --upstream-ca FILE or --insecure)"
        );
    }

    let sem = Arc::new(Semaphore::new(cfg.max_connections.max(1)));
    let run_for = cfg.run_for;
    let sh = Arc::new(Shared {
        cfg,
        ca,
        provider,
        server_cfgs: Mutex::new(HashMap::new()),
        client,
        client_h1,
        via,
        rec: rec.clone(),
        pass,
        key_log,
        conn_ids: AtomicU64::new(0),
        warned: Mutex::new(HashSet::new()),
        peers: Mutex::new(HashMap::new()),
    });

    let shutdown = shutdown_signal(run_for);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = sem.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = &mut shutdown => break,
        };
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    rec.notice(&format!("accept: {e}"));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let sh = sh.clone();
        tokio::spawn(async move {
            let _permit = permit;
            handle_conn(sh, tcp, peer).await;
        });
    }
    rec.finish()?;
    Ok(Stats {
        connections: sh.conn_ids.load(Ordering::Relaxed),
        flows: rec.flows.load(Ordering::Relaxed),
    })
}

async fn shutdown_signal(run_for: Option<Duration>) {
    let term = async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await
    };
    let limit = async {
        match run_for {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term => {},
        _ = limit => {},
    }
}

async fn handle_conn(sh: Arc<Shared>, mut tcp: TcpStream, peer: SocketAddr) {
    let local = tcp.local_addr().unwrap_or(peer);
    let ctx = Ctx {
        client: peer,
        local,
        conn_id: sh.conn_ids.fetch_add(1, Ordering::Relaxed),
        tls: false,
        target: None,
    };
    match sh.cfg.mode.clone() {
        Mode::Regular | Mode::Upstream { .. } => serve_http(sh, tcp, ctx).await,
        Mode::Socks5 => {
            match tokio::time::timeout(sh.cfg.header_timeout, socks::handshake(&mut tcp)).await {
                Ok(Ok((host, port))) => tunnel(sh, tcp, ctx, host, port).await,
                Ok(Err(e)) => sh.rec.line(&format!(
                    "{} {peer} SOCKS5 error: {e}",
                    flow::clock(flow::now_ns())
                )),
                Err(_) => sh.rec.line(&format!(
                    "{} {peer} SOCKS5 handshake timed out",
                    flow::clock(flow::now_ns())
                )),
            }
        }
        Mode::Reverse { host, port, .. } => {
            let _ = (host, port);
            let r =
                tokio::time::timeout(sh.cfg.header_timeout, tls::read_client_hello(&mut tcp)).await;
            let Ok(Ok((buf, hello))) = r else { return };
            if buf.is_empty() {
                return;
            }
            match hello {
                Some(h) => {
                    let name = h.sni.clone().unwrap_or_else(|| local.ip().to_string());
                    intercept(sh, Prefixed::new(buf, tcp), ctx, &name, &h).await;
                }
                None => serve_http(sh, Prefixed::new(buf, tcp), ctx).await,
            }
        }
    }
}

/// A CONNECT or SOCKS5 tunnel to `host:port`: TLS is intercepted or passed through; clear text
/// HTTP is served; anything else is relayed.
async fn tunnel<S>(sh: Arc<Shared>, mut s: S, ctx: Ctx, host: String, port: u16)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let r = tokio::time::timeout(sh.cfg.header_timeout, tls::read_client_hello(&mut s)).await;
    let (buf, hello) = match r {
        Ok(Ok(x)) => x,
        Ok(Err(_)) => return,
        Err(_) => {
            sh.rec.line(&format!(
                "{} {} tunnel to {host}:{port}: no data within {:?}, closed",
                flow::clock(flow::now_ns()),
                ctx.client,
                sh.cfg.header_timeout
            ));
            return;
        }
    };
    if buf.is_empty() {
        return;
    }
    let ctx = Ctx {
        target: Some((host.clone(), port)),
        ..ctx
    };
    match hello {
        None => {
            if looks_like_http(&buf) {
                serve_http(sh, Prefixed::new(buf, s), ctx).await
            } else {
                passthrough(sh, s, buf, ctx, None, "not TLS or HTTP").await
            }
        }
        Some(h) => {
            let mut name = h
                .sni
                .clone()
                .unwrap_or_else(|| bare_host(&host).to_string());
            if let Some(reason) = sh.pass.check(&name, port) {
                let why = reason.as_str();
                passthrough(sh, s, buf, ctx, h.sni.clone(), why).await
            } else {
                // An SNI rustls refuses ("host:port", as Go's hey sends): RFC 6066 forbids it
                // and the hello cannot be rewritten (it is part of the transcript), so say why.
                if let Some(sni) = &h.sni
                    && !tls::sni_acceptable(sni)
                {
                    sh.rec.line(&format!(
                        "{} {} client sent server name {sni:?}, which is not a host name (RFC 6066); the TLS library refuses it",
                        flow::clock(flow::now_ns()),
                        ctx.client
                    ));
                    name = bare_host(&host).to_string();
                }
                intercept(sh, Prefixed::new(buf, s), ctx, &name, &h).await
            }
        }
    }
}

fn looks_like_http(b: &[u8]) -> bool {
    let Some(sp) = b.iter().take(16).position(|&c| c == b' ') else {
        return b.len() < 16 && b.iter().all(|c| c.is_ascii_uppercase());
    };
    sp > 0 && b[..sp].iter().all(|c| c.is_ascii_uppercase())
}

impl Shared {
    fn server_config(&self, name: &str, alpn: bool) -> Result<Arc<ServerConfig>, ProxyError> {
        let key = (name.to_string(), alpn);
        if let Ok(c) = self.server_cfgs.lock()
            && let Some(x) = c.get(&key)
        {
            return Ok(x.clone());
        }
        let ck = self.ca.leaf(name)?;
        let mut c = ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| ProxyError::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(FixedCert(ck)));
        if alpn {
            c.alpn_protocols = if self.cfg.http2 {
                vec![b"h2".to_vec(), b"http/1.1".to_vec()]
            } else {
                vec![b"http/1.1".to_vec()]
            };
        }
        if !self.key_log.sinks.is_empty() {
            c.key_log = self.key_log.clone();
        }
        let c = Arc::new(c);
        if let Ok(mut m) = self.server_cfgs.lock() {
            if m.len() >= SERVER_CFG_CACHE {
                m.clear();
            }
            m.insert(key, c.clone());
        }
        Ok(c)
    }
}

async fn intercept<S>(sh: Arc<Shared>, s: Prefixed<S>, ctx: Ctx, name: &str, hello: &tls::Hello)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // Offer ALPN only when the client offers something we speak (rustls would otherwise fail).
    let alpn = hello.alpn.is_empty()
        || hello
            .alpn
            .iter()
            .any(|p| p == b"http/1.1" || (sh.cfg.http2 && p == b"h2"));
    let cfg = match sh.server_config(name, alpn) {
        Ok(c) => c,
        Err(e) => {
            sh.rec.notice(&format!("{} {name}: {e}", ctx.client));
            return;
        }
    };
    let acc = TlsAcceptor::from(cfg);
    match tokio::time::timeout(sh.cfg.header_timeout, acc.accept(s)).await {
        Ok(Ok(tls)) => {
            sh.pass.handshake_ok(name);
            let ctx = Ctx { tls: true, ..ctx };
            serve_http(sh, tls, ctx).await
        }
        Ok(Err(e)) => {
            let now = flow::clock(flow::now_ns());
            let failure = tls::classify_failure(&e);
            if failure == HandshakeFailure::Refused && sh.pass.mark_pinned(name) {
                sh.rec.line(&format!(
                    "{now} {} client refused our certificate for {name} ({e}); passing {name} through for {}s (--passthrough-ttl)",
                    ctx.client,
                    sh.pass.ttl().as_secs()
                ));
            } else if failure == HandshakeFailure::Aborted
                && sh.pass.note_abort(name)
                && sh.pass.mark_pinned(name)
            {
                sh.rec.line(&format!(
                    "{now} {} client closed the TLS handshake for {name} without an alert ({e}), {} times in a row: taken as a refusal of our certificate; passing {name} through for {}s (--passthrough-ttl)",
                    ctx.client,
                    tls::ABORTS_BEFORE_PASS,
                    sh.pass.ttl().as_secs()
                ));
            } else {
                sh.rec.line(&format!(
                    "{now} {} TLS handshake with client for {name} failed: {e}",
                    ctx.client
                ));
            }
        }
        Err(_) => sh.rec.line(&format!(
            "{} {} TLS handshake with client for {name} timed out",
            flow::clock(flow::now_ns()),
            ctx.client
        )),
    }
}

/// Relays a tunnel unchanged and logs it with SNI and byte counts.
async fn passthrough<S>(
    sh: Arc<Shared>,
    mut s: S,
    first: Vec<u8>,
    ctx: Ctx,
    sni: Option<String>,
    why: &str,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Some((host, port)) = ctx.target.clone() else {
        return;
    };
    let start = Instant::now();
    let now = || flow::clock(flow::now_ns());
    let mut up = match connector::tcp_to(sh.via.as_ref(), &host, port).await {
        Ok(u) => u,
        Err(e) => {
            sh.rec.line(&format!(
                "{} {} TUNNEL {host}:{port} error: {e}",
                now(),
                ctx.client
            ));
            return;
        }
    };
    if up.write_all(&first).await.is_err() {
        return;
    }
    let r = tokio::io::copy_bidirectional(&mut s, &mut up).await;
    let (c2s, s2c, note) = match r {
        Ok((a, b)) => (a, b, String::new()),
        Err(e) => (0, 0, format!(" ({e})")),
    };
    sh.rec.line(&format!(
        "{} {} TUNNEL {host}:{port} sni={} up={} down={} {:.1}s [pass-through: {why}]{note}",
        now(),
        ctx.client,
        sni.as_deref().unwrap_or("-"),
        flow::human_size(c2s + first.len() as u64),
        flow::human_size(s2c),
        start.elapsed().as_secs_f64()
    ));
}

/// Serves HTTP/1.1 or HTTP/2 on `io`. Boxed: it is part of a recursion (a CONNECT request
/// served here starts a tunnel that serves HTTP again).
fn serve_http<I>(sh: Arc<Shared>, io: I, ctx: Ctx) -> Pin<Box<dyn Future<Output = ()> + Send>>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    Box::pin(serve_http_inner(sh, io, ctx))
}

async fn serve_http_inner<I>(sh: Arc<Shared>, io: I, ctx: Ctx)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(sh.cfg.header_timeout)
        .max_buf_size(sh.cfg.max_header_bytes.max(8192))
        .keep_alive(true);
    b.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(sh.cfg.max_header_bytes.max(4096) as u32)
        .max_concurrent_streams(256);
    let b = if sh.cfg.http2 { b } else { b.http1_only() };
    let svc = service_fn(move |req: Request<Incoming>| {
        let sh = sh.clone();
        let ctx = ctx.clone();
        async move { Ok::<_, Infallible>(handle(sh, ctx, req).await) }
    });
    let _ = b
        .serve_connection_with_upgrades(TokioIo::new(io), svc)
        .await;
}

async fn handle(sh: Arc<Shared>, ctx: Ctx, mut req: Request<Incoming>) -> Response<PBody> {
    if req.method() == Method::CONNECT {
        if ctx.target.is_some() || !matches!(sh.cfg.mode, Mode::Regular | Mode::Upstream { .. }) {
            return body_text(
                StatusCode::METHOD_NOT_ALLOWED,
                "wiresift proxy: CONNECT is not allowed here\n".into(),
            );
        }
        let Some(a) = req.uri().authority().cloned() else {
            return body_text(
                StatusCode::BAD_REQUEST,
                "wiresift proxy: CONNECT needs host:port\n".into(),
            );
        };
        let (host, port) = host_port(&a, 443);
        let sh2 = sh.clone();
        tokio::spawn(async move {
            match hyper::upgrade::on(&mut req).await {
                Ok(up) => tunnel(sh2, TokioIo::new(up), ctx, host, port).await,
                Err(e) => sh2.rec.line(&format!(
                    "{} {} CONNECT {host}:{port}: {e}",
                    flow::clock(flow::now_ns()),
                    ctx.client
                )),
            }
        });
        return Response::new(empty());
    }

    // Where the request goes.
    let (https, host, port) = match (&sh.cfg.mode, &ctx.target) {
        (Mode::Reverse { https, host, port }, _) => (*https, host.clone(), *port),
        (_, Some((h, p))) => (ctx.tls, h.clone(), *p),
        _ => {
            let https = match req.uri().scheme_str() {
                Some("http") => false,
                Some("https") => true,
                _ => {
                    return body_text(
                        StatusCode::BAD_REQUEST,
                        "wiresift proxy: expected an absolute URI (http://host/path) or CONNECT; is the client configured to use this proxy?\n".into(),
                    );
                }
            };
            let Some(a) = req.uri().authority() else {
                return body_text(
                    StatusCode::BAD_REQUEST,
                    "wiresift proxy: the URI has no host\n".into(),
                );
            };
            let (h, p) = host_port(a, default_port(https));
            (https, h, p)
        }
    };
    let scheme = if https { "https" } else { "http" };
    let authority = authority_of(&host, port, https);
    let pq = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .to_string();
    let url = format!("{scheme}://{authority}{pq}");
    let Ok(uri) = url.parse::<Uri>() else {
        return body_text(
            StatusCode::BAD_REQUEST,
            format!("wiresift proxy: bad URL {url:?}\n"),
        );
    };
    let is_upgrade =
        req.version() <= Version::HTTP_11 && req.headers().contains_key(header::UPGRADE);
    let client_version = req.version();
    let rec = sh.rec.clone();

    let mut fl = Flow::new(
        ctx.client,
        req.method().as_str(),
        url,
        client_version,
        ctx.tls,
        ctx.conn_id,
    );
    if rec.wants_headers() {
        fl.req_headers = flow::header_list(req.headers());
        if client_version == Version::HTTP_2 {
            fl.req_headers
                .insert(0, (":authority".into(), authority.clone()));
        }
    }
    let client_upgrade = if is_upgrade {
        Some(hyper::upgrade::on(&mut req))
    } else {
        None
    };
    let (mut parts, body) = req.into_parts();
    strip_hop(&mut parts.headers, is_upgrade);
    if matches!(sh.cfg.mode, Mode::Reverse { .. })
        && let Ok(v) = HeaderValue::from_str(&authority)
    {
        parts.headers.insert(header::HOST, v);
    }
    if let Some(p) = &rec.pcap {
        pcap_request(
            &sh, p, &mut fl, &ctx, &parts, &body, &host, port, &authority, &pq,
        )
        .await;
    }
    parts.uri = uri;
    parts.version = Version::HTTP_11;
    let method = parts.method.clone();
    let fl = Arc::new(Mutex::new(fl));
    let body = Tap::new(body, fl.clone(), rec.clone(), Side::Request)
        .map_err(BoxError::from)
        .boxed_unsync();
    let client = if is_upgrade {
        &sh.client_h1
    } else {
        &sh.client
    };
    match client.request(Request::from_parts(parts, body)).await {
        Ok(mut resp) => {
            let info = resp.extensions().get::<UpInfo>().cloned();
            let status = resp.status();
            if let Ok(mut f) = fl.lock() {
                f.status = status.as_u16();
                f.resp_version = resp.version();
                f.resp_start = Some(flow::now_ns());
                if rec.wants_headers() {
                    f.resp_headers = flow::header_list(resp.headers());
                }
                if let Some(i) = &info {
                    f.server_ip = i.peer.ip().to_string();
                    f.upstream_alpn_h2 = i.h2;
                    if let Ok(mut m) = sh.peers.lock() {
                        if m.len() > 4096 {
                            m.clear();
                        }
                        m.insert(host.clone(), i.peer.ip());
                    }
                }
                if let Some(p) = &rec.pcap {
                    let no_body = method == Method::HEAD
                        || status.is_informational()
                        || status == StatusCode::NO_CONTENT
                        || status == StatusCode::NOT_MODIFIED;
                    f.chunked_resp =
                        !no_body && !resp.headers().contains_key(header::CONTENT_LENGTH);
                    let line = format!(
                        "HTTP/1.1 {} {}",
                        status.as_u16(),
                        status.canonical_reason().unwrap_or("")
                    );
                    let head = flow::render_head(&line, resp.headers(), None, f.chunked_resp);
                    f.pcap_both(p, false, &head, false);
                }
            }
            if status == StatusCode::SWITCHING_PROTOCOLS
                && let Some(cu) = client_upgrade
            {
                let uu = hyper::upgrade::on(&mut resp);
                let label = fl
                    .lock()
                    .map(|f| format!("{} {}", f.client, f.url))
                    .unwrap_or_default();
                let rec2 = rec.clone();
                tokio::spawn(async move {
                    let (c, u) = tokio::join!(cu, uu);
                    if let (Ok(c), Ok(u)) = (c, u) {
                        let (cr, cw) = tokio::io::split(TokioIo::new(c));
                        let (ur, uw) = tokio::io::split(TokioIo::new(u));
                        tokio::join!(
                            ws::pump(cr, uw, rec2.clone(), format!("{label} →")),
                            ws::pump(ur, cw, rec2.clone(), format!("{label} ←"))
                        );
                    }
                });
                flow::complete(&rec, &fl);
                let (parts, _) = resp.into_parts();
                return Response::from_parts(parts, empty());
            }
            let (mut parts, body) = resp.into_parts();
            strip_hop(&mut parts.headers, false);
            parts.version = Version::HTTP_11;
            let body = Tap::new(body, fl, rec, Side::Response)
                .map_err(BoxError::from)
                .boxed_unsync();
            Response::from_parts(parts, body)
        }
        Err(e) => {
            let msg = error_chain(&e);
            let tls_fail = msg.contains("certificate") || msg.contains("TLS handshake");
            if tls_fail {
                let first = sh
                    .warned
                    .lock()
                    .map(|mut w| {
                        if w.len() > 4096 {
                            w.clear();
                        }
                        w.insert(authority.clone())
                    })
                    .unwrap_or(false);
                if first {
                    rec.notice(&format!(
                        "upstream {authority}: {msg}{}",
                        if sh.cfg.insecure {
                            ""
                        } else {
                            " (trust it with --upstream-ca FILE, or skip verification with --insecure)"
                        }
                    ));
                }
            }
            if let Ok(mut f) = fl.lock() {
                f.error = Some(msg.clone());
            }
            flow::complete(&rec, &fl);
            body_text(StatusCode::BAD_GATEWAY, format!("wiresift proxy: {msg}\n"))
        }
    }
}

/// Opens the two synthesized conversations of a flow and writes the request head to both.
#[allow(clippy::too_many_arguments)]
async fn pcap_request(
    sh: &Shared,
    p: &PcapSink,
    fl: &mut Flow,
    ctx: &Ctx,
    parts: &http::request::Parts,
    body: &Incoming,
    host: &str,
    port: u16,
    authority: &str,
    pq: &str,
) {
    let server_ip = match bare_host(host).parse::<IpAddr>() {
        Ok(ip) => Some(ip),
        Err(_) => {
            let cached = sh.peers.lock().ok().and_then(|m| m.get(host).copied());
            match cached {
                Some(ip) => Some(ip),
                None => tokio::net::lookup_host((bare_host(host), port))
                    .await
                    .ok()
                    .and_then(|mut a| a.next())
                    .map(|a| a.ip()),
            }
        }
    }
    .unwrap_or(IpAddr::V4([192, 0, 2, 1].into()));
    // Decrypted conversations use port 80 on the server side so that every tool dissects them
    // as HTTP (443 would be taken for TLS).
    let client_port = if parts.version == Version::HTTP_2 {
        p.synthetic_port()
    } else {
        ctx.client.port()
    };
    fl.conv_client = Some(Conv::new(
        SocketAddr::new(ctx.client.ip(), client_port),
        SocketAddr::new(ctx.local.ip(), 80),
    ));
    let local_ip = match (ctx.local.ip(), server_ip) {
        (IpAddr::V4(_), IpAddr::V6(_)) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        (IpAddr::V6(_), IpAddr::V4(_)) => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        (ip, _) => ip,
    };
    fl.conv_up = Some(Conv::new(
        SocketAddr::new(local_ip, p.synthetic_port()),
        SocketAddr::new(server_ip, 80),
    ));
    fl.chunked_req = !body.is_end_stream() && !parts.headers.contains_key(header::CONTENT_LENGTH);
    let line = format!("{} {pq} HTTP/1.1", parts.method);
    let head = flow::render_head(&line, &parts.headers, Some(authority), fl.chunked_req);
    fl.pcap_both(p, true, &head, false);
}

impl From<PassReason> for &'static str {
    fn from(r: PassReason) -> &'static str {
        r.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_headers() {
        let mut h = HeaderMap::new();
        h.insert("connection", HeaderValue::from_static("close, x-foo"));
        h.insert("x-foo", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("5"));
        h.insert("accept", HeaderValue::from_static("*/*"));
        strip_hop(&mut h, false);
        assert_eq!(h.len(), 1);
        assert!(looks_like_http(b"GET / HTTP/1.1\r\n"));
        assert!(!looks_like_http(b"\x16\x03\x01"));
        assert_eq!(authority_of("[::1]", 443, true), "[::1]");
        assert_eq!(authority_of("::1", 8443, true), "[::1]:8443");
    }
}
