//! Hash maps keyed by stream numbers and addresses from captures: a randomly seeded fast
//! hash (foldhash) instead of SipHash, which was 15% of `follow --split`'s time.

/// A `HashMap` with a seeded fast hasher; build with `FastMap::default()`.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
