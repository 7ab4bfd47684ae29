//! Per-session ring buffers of the live stream (seed 003): a late subscriber to a session first
//! gets its recent lines, then the live ones.
//!
//! Each session keeps at most `max_messages` events, oldest dropped first, none older than
//! `ttl`; at most `max_sessions` sessions are kept, the least recently active dropped first, so
//! memory stays bounded whatever session ids arrive. Time is passed in, so tests drive it.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::SessionBufferConfig;
use crate::event::Event;

/// One buffered event and its place in the live stream.
#[derive(Debug, Clone)]
pub struct Buffered {
    /// Its sequence number in the live stream (see `websocket::TailItem`).
    pub seq: u64,
    pub event: Event,
}

#[derive(Debug)]
struct Ring {
    items: VecDeque<(Instant, Buffered)>,
    last_active: Instant,
}

/// How often rings no event touched are swept for expired events.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// The rings of every session seen recently.
#[derive(Debug)]
pub struct SessionRings {
    limits: SessionBufferConfig,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    sessions: HashMap<String, Ring>,
    last_sweep: Option<Instant>,
}

impl SessionRings {
    pub fn new(limits: SessionBufferConfig) -> Self {
        SessionRings { limits, inner: Mutex::new(Inner { sessions: HashMap::new(), last_sweep: None }) }
    }

    /// Buffers the events of a batch that carry a session id; `first_seq` is the stream sequence
    /// number of the batch's first event.
    pub fn record(&self, first_seq: u64, events: &[Event], now: Instant) {
        // This runs on the processor thread for every batch: batches without sessions cost a scan.
        if self.limits.max_messages == 0 || !events.iter().any(|e| e.session_id.is_some()) {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let sessions = &mut inner.sessions;
        for (i, event) in events.iter().enumerate() {
            let Some(session) = event.session_id.as_deref() else { continue };
            if !sessions.contains_key(session) && sessions.len() >= self.limits.max_sessions {
                evict_least_recent(sessions);
            }
            let ring = sessions
                .entry(session.to_string())
                .or_insert_with(|| Ring { items: VecDeque::new(), last_active: now });
            ring.last_active = now;
            ring.items.push_back((now, Buffered { seq: first_seq + i as u64, event: event.clone() }));
            while ring.items.len() > self.limits.max_messages {
                ring.items.pop_front();
            }
        }
        // Rings of quiet sessions would keep expired events (and their memory) until read; sweep
        // them now and then rather than on every batch.
        if inner.last_sweep.is_none_or(|at| now.saturating_duration_since(at) >= SWEEP_EVERY) {
            inner.last_sweep = Some(now);
            let ttl = self.limits.ttl;
            inner.sessions.retain(|_, ring| {
                expire(ring, now, ttl);
                !ring.items.is_empty()
            });
        }
    }

    /// The session's buffered events, oldest first, none older than the TTL.
    pub fn recent(&self, session: &str, now: Instant) -> Vec<Buffered> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Some(ring) = inner.sessions.get_mut(session) else { return Vec::new() };
        expire(ring, now, self.limits.ttl);
        ring.items.iter().map(|(_, b)| b.clone()).collect()
    }
}

fn expire(ring: &mut Ring, now: Instant, ttl: Duration) {
    while ring.items.front().is_some_and(|(at, _)| now.saturating_duration_since(*at) > ttl) {
        ring.items.pop_front();
    }
}

fn evict_least_recent(sessions: &mut HashMap<String, Ring>) {
    let oldest = sessions.iter().min_by_key(|(_, ring)| ring.last_active).map(|(name, _)| name.clone());
    if let Some(name) = oldest {
        sessions.remove(&name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(session: &str, message: &str) -> Event {
        Event { session_id: Some(session.into()), message: message.into(), ..Event::default() }
    }

    fn messages(items: &[Buffered]) -> Vec<&str> {
        items.iter().map(|b| b.event.message.as_str()).collect()
    }

    #[test]
    fn rings_keep_the_newest_within_count_and_ttl() {
        let rings =
            SessionRings::new(SessionBufferConfig { max_messages: 3, ttl: Duration::from_secs(60), max_sessions: 2 });
        let t0 = Instant::now();
        let batch: Vec<Event> = (0..5).map(|i| event("a", &format!("a{i}"))).collect();
        rings.record(10, &batch, t0);
        let recent = rings.recent("a", t0);
        assert_eq!(messages(&recent), ["a2", "a3", "a4"], "oldest dropped first");
        assert_eq!(recent.iter().map(|b| b.seq).collect::<Vec<_>>(), [12, 13, 14]);
        let plain = Event { message: "no session".into(), ..Event::default() };
        rings.record(15, &[plain, event("a", "a5")], t0 + Duration::from_secs(30));
        assert_eq!(messages(&rings.recent("a", t0 + Duration::from_secs(30))), ["a3", "a4", "a5"]);
        assert_eq!(messages(&rings.recent("a", t0 + Duration::from_secs(61))), ["a5"], "older than the TTL");
        assert!(rings.recent("a", t0 + Duration::from_secs(200)).is_empty());
    }

    #[test]
    fn the_least_recent_session_goes_first() {
        let rings =
            SessionRings::new(SessionBufferConfig { max_messages: 10, ttl: Duration::from_secs(60), max_sessions: 2 });
        let t0 = Instant::now();
        rings.record(0, &[event("a", "a")], t0);
        rings.record(1, &[event("b", "b")], t0 + Duration::from_secs(1));
        rings.record(2, &[event("a", "a again")], t0 + Duration::from_secs(2));
        rings.record(3, &[event("c", "c")], t0 + Duration::from_secs(3));
        let now = t0 + Duration::from_secs(3);
        assert!(rings.recent("b", now).is_empty(), "b was the least recently active");
        assert_eq!(messages(&rings.recent("a", now)), ["a", "a again"]);
        assert_eq!(messages(&rings.recent("c", now)), ["c"]);
    }
}
