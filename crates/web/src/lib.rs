//! The browser UI server (routes over `wiresift-session`).
#![forbid(unsafe_code)]
