//! Work in flight per caller: a count per key (an address, a principal) with a ceiling, so no
//! single caller can hold every slot of a shared resource while staying under its rate quota.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

/// Counts of work in flight, by caller.
pub struct InFlight<K> {
    counts: Arc<Mutex<HashMap<K, u32>>>,
}

impl<K: Eq + Hash> Default for InFlight<K> {
    fn default() -> Self {
        InFlight {
            counts: Arc::default(),
        }
    }
}

/// One piece of work in flight; dropping it ends it.
pub struct InFlightGuard<K: Eq + Hash> {
    counts: Arc<Mutex<HashMap<K, u32>>>,
    caller: K,
}

impl<K: Eq + Hash> Drop for InFlightGuard<K> {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.caller) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.caller);
            }
        }
    }
}

impl<K: Eq + Hash + Clone> InFlight<K> {
    /// Starts work for `caller` unless it already has `max` in flight.
    pub fn enter(&self, caller: &K, max: u32) -> Option<InFlightGuard<K>> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(caller.clone()).or_default();
        if *count >= max.max(1) {
            return None;
        }
        *count += 1;
        Some(InFlightGuard {
            counts: Arc::clone(&self.counts),
            caller: caller.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_caller_has_at_most_its_share_in_flight() {
        let in_flight = InFlight::default();
        let first = in_flight.enter(&"a", 2).unwrap();
        let _second = in_flight.enter(&"a", 2).unwrap();
        assert!(in_flight.enter(&"a", 2).is_none());
        assert!(
            in_flight.enter(&"b", 2).is_some(),
            "others are not affected"
        );
        drop(first);
        assert!(
            in_flight.enter(&"a", 2).is_some(),
            "a finished request frees its place"
        );
    }
}
