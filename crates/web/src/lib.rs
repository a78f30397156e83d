//! The browser UI's server (`wiresift ui`): the JSON API of `docs/ui-api.md` over
//! `wiresift-session`, the embedded front end, and the guard in front of both (token, `Host`
//! check, security headers).
//!
//! [`Server::new`] checks the arguments, opens the captures given and binds the port;
//! [`Server::run`] serves until SIGINT/SIGTERM, then closes every session and removes the spool
//! directory (uploads, decompressed captures).
#![forbid(unsafe_code)]

mod api;
mod assets;
mod auth;
mod error;
mod extra;
mod files;
mod params;
mod recent;
mod state;
mod stream;
mod upload;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use wiresift_session::Session;

pub use error::WebError;

use state::{AppState, Spool};

/// What `wiresift ui` was asked for.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    /// The browser may open captures only under this directory.
    pub root: PathBuf,
    /// Captures to open at start (relative to the current directory; under `root`).
    pub files: Vec<PathBuf>,
    /// Largest upload (bytes).
    pub max_upload: u64,
    /// Where the private spool directory is made (default: the system's temporary directory).
    pub spool: Option<PathBuf>,
    /// The recent-files list (default: `$XDG_CONFIG_HOME/wiresift/ui.json`).
    pub recent_file: Option<PathBuf>,
}

impl Config {
    pub fn new(listen: SocketAddr, root: PathBuf) -> Config {
        Config {
            listen,
            root,
            files: Vec::new(),
            max_upload: 4 << 30,
            spool: None,
            recent_file: recent::default_file(),
        }
    }
}

/// A bound server, not yet serving.
pub struct Server {
    state: Arc<AppState>,
    listener: std::net::TcpListener,
    url: String,
}

impl Server {
    /// Checks the root and the files, makes the spool directory, binds, and opens the files.
    pub fn new(cfg: Config) -> Result<Server, WebError> {
        let root_err = |error| WebError::Root {
            path: cfg.root.clone(),
            error,
        };
        let root = cfg.root.canonicalize().map_err(root_err)?;
        if !root.is_dir() {
            return Err(root_err(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                "not a directory",
            )));
        }
        let mut files = Vec::new();
        for f in &cfg.files {
            let abs = f.canonicalize().map_err(|error| WebError::File {
                path: f.clone(),
                error,
            })?;
            let rel = abs
                .strip_prefix(&root)
                .ok()
                .and_then(files::rel_string)
                .ok_or_else(|| WebError::OutsideRoot {
                    path: f.clone(),
                    root: cfg.root.clone(),
                })?;
            if !abs.is_file() {
                return Err(WebError::File {
                    path: f.clone(),
                    error: std::io::Error::new(std::io::ErrorKind::IsADirectory, "not a file"),
                });
            }
            files.push((abs, rel));
        }
        if files.len() > state::MAX_SESSIONS {
            return Err(WebError::Io(std::io::Error::other(format!(
                "at most {} captures can be open at once",
                state::MAX_SESSIONS
            ))));
        }
        let token = auth::new_token()?;
        let spool = Spool::create(&cfg.spool.clone().unwrap_or_else(std::env::temp_dir))?;
        let listener = std::net::TcpListener::bind(cfg.listen).map_err(|error| WebError::Bind {
            addr: cfg.listen,
            error,
        })?;
        let addr = listener.local_addr()?;
        let state = Arc::new(AppState {
            token,
            root,
            spool,
            max_upload: cfg.max_upload,
            port: addr.port(),
            sessions: Mutex::new(state::Sessions::default()),
            recent: recent::Recent::new(cfg.recent_file.clone()),
        });
        for (abs, rel) in files {
            let name = abs
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| rel.clone());
            let s =
                Session::open(&abs, &name, state.spool.dir()).map_err(|error| WebError::Open {
                    path: abs.clone(),
                    error,
                })?;
            state.recent.add(&abs, &name);
            state
                .insert(name, rel, s, None)
                .map_err(|e| WebError::Io(std::io::Error::other(e.body["error"].to_string())))?;
        }
        let shown = match addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => {
                SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
            }
            IpAddr::V6(ip) if ip.is_unspecified() => {
                SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
            }
            _ => addr,
        };
        let url = format!("http://{shown}/?token={}", state.token);
        Ok(Server {
            state,
            listener,
            url,
        })
    }

    /// The URL to open (it carries the token).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until SIGINT or SIGTERM. `ready` is called with the URL once the signals are
    /// caught (so a signal right after it stops the server cleanly).
    pub fn run(self, ready: impl FnOnce(&str)) -> Result<(), WebError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let Server {
            state,
            listener,
            url,
        } = self;
        let r = rt.block_on(serve(Arc::clone(&state), listener, &url, ready));
        close_all(&state);
        rt.shutdown_timeout(Duration::from_secs(2));
        close_all(&state);
        state.spool.remove();
        r
    }
}

fn close_all(st: &AppState) {
    if let Ok(mut m) = st.sessions.lock() {
        m.clear();
    }
}

/// The routes. Every one (and the assets) is behind [`auth::guard`].
fn router(st: Arc<AppState>) -> Router {
    let s = "/api/sessions/{id}";
    Router::new()
        .route("/api/files", get(files::files))
        .route("/api/recent", get(files::recent))
        .route("/api/sessions", get(api::list).post(api::open))
        .route("/api/upload", post(upload::upload))
        .route("/api/colors", get(api::colors))
        .route("/api/filter/check", get(api::check_filter))
        .route("/api/fields", get(api::fields))
        .route(s, get(api::get_session).delete(api::close))
        .route(&format!("{s}/status"), get(api::status))
        .route(&format!("{s}/info"), get(extra::info))
        .route(&format!("{s}/rows"), get(api::rows))
        .route(&format!("{s}/position"), get(api::position))
        .route(&format!("{s}/marks"), post(api::marks))
        .route(&format!("{s}/filter"), post(api::apply_filter))
        .route(&format!("{s}/frames/{{n}}"), get(api::frame))
        .route(&format!("{s}/follow"), get(api::follow))
        .route(&format!("{s}/follow/text"), get(api::follow_text))
        .route(&format!("{s}/follow/bytes"), get(api::follow_bytes))
        .route(&format!("{s}/keys"), post(upload::keys))
        .route(
            &format!("{s}/objects"),
            get(extra::objects).post(extra::start_objects),
        )
        .route(&format!("{s}/objects/{{k}}"), get(extra::object))
        .route(&format!("{s}/objects.zip"), get(extra::objects_zip))
        .route(&format!("{s}/stats/{{what}}"), get(extra::stats))
        .route(&format!("{s}/save"), get(extra::save))
        .fallback(assets::serve)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&st),
            auth::guard,
        ))
        .with_state(st)
}

async fn serve(
    st: Arc<AppState>,
    listener: std::net::TcpListener,
    url: &str,
    ready: impl FnOnce(&str),
) -> Result<(), WebError> {
    listener.set_nonblocking(true)?;
    let l = tokio::net::TcpListener::from_std(listener)?;
    let stop = Stop::new()?;
    let app = router(st);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let mut server = tokio::spawn(async move {
        axum::serve(l, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
    });
    ready(url);
    tokio::select! {
        _ = stop.wait() => {}
        r = &mut server => {
            return match r {
                Ok(r) => r.map_err(WebError::Io),
                Err(e) => Err(WebError::Io(std::io::Error::other(e.to_string()))),
            };
        }
    }
    let _ = tx.send(());
    // Open connections (a browser's keep-alive, a long download) get a moment to finish.
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    Ok(())
}

/// SIGINT and SIGTERM, caught from the moment this exists.
struct Stop {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Stop {
    fn new() -> std::io::Result<Stop> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Stop {
                int: signal(SignalKind::interrupt())?,
                term: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Stop {})
    }

    async fn wait(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
