//! Display filters as frame sets. A filter runs once over the whole capture through the same
//! pipeline as `read -Y` and leaves the sorted list of matching frame numbers; the list is
//! cached (by expression, for the current keys), so paging, Go to packet, the I/O graph and
//! saving the displayed frames reuse it.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;
use wiresift_filter::Filter;

use crate::pipeline::{Needs, Pipeline, Times};
use crate::{Session, SessionError, registry};

/// Cached frame sets kept at most (by count and by total frames held).
const CACHE_SETS: usize = 16;
const CACHE_FRAMES: usize = 16 << 20;

/// The frames a packet list shows: all, or a filter's set.
#[derive(Clone, Debug)]
pub struct View {
    frames: Option<Arc<Vec<u32>>>,
}

impl View {
    /// Positions visible when `indexed` frames are indexed.
    pub fn visible(&self, indexed: u64) -> u64 {
        match &self.frames {
            None => indexed,
            Some(f) => f.partition_point(|&n| u64::from(n) <= indexed) as u64,
        }
    }
    /// The frame at a position.
    pub fn frame_at(&self, pos: u64) -> Option<u64> {
        match &self.frames {
            None => Some(pos + 1),
            Some(f) => f.get(usize::try_from(pos).ok()?).map(|&n| u64::from(n)),
        }
    }
    /// The position of frame `n` (if shown) and of the first shown frame at or after it.
    pub fn position(&self, n: u64) -> (Option<u64>, u64) {
        match &self.frames {
            None => (n.checked_sub(1), n.saturating_sub(1)),
            Some(f) => {
                let i = f.partition_point(|&x| u64::from(x) < n);
                let exact = f.get(i).is_some_and(|&x| u64::from(x) == n);
                (exact.then_some(i as u64), i as u64)
            }
        }
    }
    /// The frame numbers (None: every frame).
    pub fn frames(&self) -> Option<&[u32]> {
        self.frames.as_deref().map(|v| v.as_slice())
    }
}

/// The result of applying a filter.
#[derive(Clone, Debug, Serialize)]
pub struct FilterOutcome {
    pub expr: String,
    pub count: u64,
    pub ms: u64,
    pub cached: bool,
}

struct Entry {
    expr: String,
    frames: Arc<Vec<u32>>,
    ms: u64,
}

/// Frame sets by expression, most recently used last.
#[derive(Default)]
pub struct Cache {
    sets: Mutex<Vec<Entry>>,
}

impl Cache {
    fn get(&self, expr: &str) -> Option<(Arc<Vec<u32>>, u64)> {
        let mut s = self.sets.lock().ok()?;
        let i = s.iter().position(|e| e.expr == expr)?;
        let e = s.remove(i);
        let r = (Arc::clone(&e.frames), e.ms);
        s.push(e);
        Some(r)
    }
    fn put(&self, expr: &str, frames: Arc<Vec<u32>>, ms: u64) {
        if let Ok(mut s) = self.sets.lock() {
            s.retain(|e| e.expr != expr);
            s.push(Entry {
                expr: expr.to_string(),
                frames,
                ms,
            });
            while s.len() > CACHE_SETS
                || (s.len() > 1 && s.iter().map(|e| e.frames.len()).sum::<usize>() > CACHE_FRAMES)
            {
                s.remove(0);
            }
        }
    }
    pub fn clear(&self) {
        if let Ok(mut s) = self.sets.lock() {
            s.clear();
        }
    }
}

/// Compiles a display filter, with the error the filter bar shows.
pub fn compile(expr: &str) -> Result<Filter, SessionError> {
    Filter::compile(expr, registry()).map_err(|e| {
        let start = e.span.start.min(expr.len());
        SessionError::BadFilter {
            column: expr.get(..start).map_or(start, |p| p.chars().count()),
            message: e.message.clone(),
            rendered: e.render(expr),
        }
    })
}

/// Checks a filter as it is typed (empty is valid: no filter).
pub fn check(expr: &str) -> Result<(), SessionError> {
    if expr.trim().is_empty() {
        return Ok(());
    }
    compile(expr).map(|_| ())
}

impl Session {
    /// The view of `filter` (computing its frame set when it is not cached).
    pub fn view(&self, filter: Option<&str>) -> Result<View, SessionError> {
        match filter.map(str::trim).filter(|f| !f.is_empty()) {
            None => Ok(View { frames: None }),
            Some(expr) => {
                let (frames, _, _) = self.frame_set(expr)?;
                Ok(View {
                    frames: Some(frames),
                })
            }
        }
    }

    /// Applies a filter: the number of matching frames and how long it took.
    pub fn apply_filter(&self, expr: &str) -> Result<FilterOutcome, SessionError> {
        let expr = expr.trim();
        if expr.is_empty() {
            self.wait_indexed();
            let n = self.current().progress.frames.load(Ordering::Acquire);
            return Ok(FilterOutcome {
                expr: String::new(),
                count: n,
                ms: 0,
                cached: true,
            });
        }
        let (frames, ms, cached) = self.frame_set(expr)?;
        Ok(FilterOutcome {
            expr: expr.to_string(),
            count: frames.len() as u64,
            ms,
            cached,
        })
    }

    fn frame_set(&self, expr: &str) -> Result<(Arc<Vec<u32>>, u64, bool), SessionError> {
        if let Some((f, ms)) = self.views.get(expr) {
            return Ok((f, ms, true));
        }
        let filter = compile(expr)?;
        let started = Instant::now();
        let frames = Arc::new(self.run_filter(&filter)?);
        let ms = started.elapsed().as_millis() as u64;
        self.views.put(expr, Arc::clone(&frames), ms);
        Ok((frames, ms, false))
    }

    /// One pass over the capture with the providers the filter needs.
    fn run_filter(&self, filter: &Filter) -> Result<Vec<u32>, SessionError> {
        let mut reader = crate::open_reader(self.path())
            .map_err(|e| SessionError::Capture(format!("{}: {e}", self.name)))?;
        let needs = Needs::for_fields(filter.fields());
        let mut pipe = Pipeline::new(needs, self.keys().store()?)
            .map_err(|e| SessionError::Invalid(e.to_string()))?;
        let mut times = Times::default();
        let mut out = Vec::new();
        while let Ok(true) = reader.advance() {
            pipe.sync_secrets(reader.secrets());
            let Some(frame) = reader.current() else { break };
            let hit = pipe.process(
                &frame,
                reader.interfaces(),
                &mut times,
                None,
                |src, _, _| filter.matches(src),
            );
            if hit {
                times.prev_displayed = Some(frame.ts);
                out.push(u32::try_from(frame.number).unwrap_or(u32::MAX));
            }
        }
        pipe.finish();
        Ok(out)
    }
}
