//! The ZeroMQ SUB input (seed 000): subscribes to topic prefixes on publishers (or on a bound
//! address publishers connect to), receives `[topic, payload]` messages, decodes the payload
//! (`decode.rs`: a protobuf `LogEntry`, or text) and journals the messages in batches.
//!
//! # What ZeroMQ PUB/SUB cannot promise
//! PUB/SUB has no acknowledgement and no replay. A publisher sends to whichever subscribers are
//! connected at that moment and drops, without telling anyone, what a subscriber cannot take:
//! - while Sluice is down, restarting, or not yet (re)connected, messages are missed;
//! - a subscriber that falls behind by more than the publisher's high-water mark (1000 messages
//!   per subscriber by default in libzmq) loses the excess;
//! - the first messages after a connect can be missed while the subscription travels to the
//!   publisher ("slow joiner");
//! - a publisher whose host vanishes without closing the connection is not noticed (there is no
//!   heartbeat), so nothing is received from it until it comes back on a new connection.
//!
//! Nobody can find out afterwards what was lost. Where delivery must be guaranteed, publish to
//! a broker with acknowledgements (the AMQP or Kafka inputs) or post to the HTTP input.
//!
//! # What Sluice does about what it controls
//! - **Journal first.** A received message is appended to the journal (fsync'd) before anything
//!   else happens to it; from then on it survives a crash and is stored exactly once.
//! - **Nothing dropped after receipt.** A message that cannot be accepted (garbage protobuf,
//!   invalid UTF-8, over `max_message_bytes`, no payload frame) is journaled as rejected and
//!   dead-lettered with the reason, and counted in `sluice_requests_rejected_total`; it never
//!   stops the input. On stop (reload or shutdown) what has been received is journaled before the
//!   task returns. The one exception is a message whose topic matches no subscription, which only
//!   a peer ignoring the subscription protocol sends: it is skipped, as a ZeroMQ SUB socket would.
//! - **Reconnect.** Each `connect` endpoint has its own socket. When its publisher goes away
//!   (it closed the connection, e.g. it restarted), the socket is replaced and the endpoint is
//!   dialled again with backoff ([`crate::retry::Backoff`], 100 ms growing to 5 s) until it
//!   answers; a publisher that is not up at start is waited for the same way. The subscriptions
//!   are sent on every new connection.
//! - **Bounded memory.** Receivers hand messages to the journaling task through a bounded queue;
//!   when the journal pushes back, receiving pauses and the kernel's socket buffers and then the
//!   publisher's high-water mark fill, which is where the publisher starts dropping.
//!
//! The `zeromq` crate has no message size limit of its own (libzmq's `ZMQ_MAXMSGSIZE`): a
//! message is held whole in memory before `max_message_bytes` is checked, so connect only to
//! publishers you trust not to send gigabytes.
//!
//! This module must never parse beyond what `decode.rs` does (the stages do the parsing proper),
//! and never drop a received message other than an unsubscribed one.

mod decode;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use zeromq::{Socket, SocketEvent, SocketOptions, SocketRecv, SubSocket, ZmqMessage};

pub use decode::{LogEntry, LogLevel};

use crate::config::zeromq::ZeromqInputConfig;
use crate::inputs::{InputContext, InputError};
use crate::journal::JournalEvent;
use crate::retry::Backoff;

/// Messages on their way from the receivers to the journaling task.
const QUEUE_MESSAGES: usize = 256;
/// A record is journaled once it holds this much, whatever `max_batch` says.
const MAX_RECORD_BYTES: usize = 16 * 1024 * 1024;
/// Longest one attempt to reach a publisher may take before the next backoff.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// A connection that lasted this long resets the backoff when it drops.
const STABLE_CONNECTION: Duration = Duration::from_secs(5);
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// Runs until `ctx.cancel` fires, then journals what it has received and returns.
pub async fn run(config: ZeromqInputConfig, ctx: InputContext) {
    let config = Arc::new(config);
    let (tx, rx) = mpsc::channel(QUEUE_MESSAGES);
    let mut receivers = JoinSet::new();
    if let Some(endpoint) = &config.bind {
        receivers.spawn(bound(endpoint.clone(), config.clone(), ctx.clone(), tx.clone()));
    }
    for endpoint in &config.connect {
        receivers.spawn(connected(endpoint.clone(), config.clone(), ctx.clone(), tx.clone()));
    }
    drop(tx);
    // Returns once every receiver has stopped (on cancel) and the queue is drained.
    journal(rx, &config, &ctx).await;
    while receivers.join_next().await.is_some() {}
}

/// One publisher, connected to and reconnected to until cancelled.
async fn connected(
    endpoint: String,
    config: Arc<ZeromqInputConfig>,
    ctx: InputContext,
    tx: mpsc::Sender<JournalEvent>,
) {
    let mut backoff = Backoff::new(RETRY_MIN, RETRY_MAX);
    let mut reported = false;
    loop {
        let mut socket = new_socket(&config).await;
        let mut monitor = Some(socket.monitor().boxed());
        let attempt = tokio::select! {
            () = ctx.cancel.cancelled() => return,
            attempt = socket.connect(&endpoint) => attempt,
        };
        if let Err(e) = attempt {
            // Said once per outage; the attempts that follow are only debug-logged.
            if reported {
                tracing::debug!(input = %ctx.name, %endpoint, error = %e, "publisher still not reachable");
            } else {
                tracing::warn!(input = %ctx.name, %endpoint, error = %e, "publisher not reachable; retrying until it is");
                reported = true;
            }
            if !backoff.wait(&ctx.cancel).await {
                return;
            }
            continue;
        }
        tracing::info!(input = %ctx.name, %endpoint, "connected to publisher");
        reported = false;
        let since = tokio::time::Instant::now();
        match receive(&mut socket, &mut monitor, &config, &ctx, &tx).await {
            Ended::Cancelled => return,
            Ended::Lost => tracing::warn!(input = %ctx.name, %endpoint, "publisher went away; reconnecting"),
        }
        // A peer that keeps accepting and dropping the connection is not redialled in a loop.
        if since.elapsed() < STABLE_CONNECTION {
            if !backoff.wait(&ctx.cancel).await {
                return;
            }
        } else {
            backoff.reset();
        }
    }
}

/// A bound address that publishers connect to; they reconnect by themselves.
async fn bound(endpoint: String, config: Arc<ZeromqInputConfig>, ctx: InputContext, tx: mpsc::Sender<JournalEvent>) {
    let mut backoff = Backoff::new(RETRY_MIN, RETRY_MAX);
    loop {
        let mut socket = new_socket(&config).await;
        match socket.bind(&endpoint).await {
            Ok(local) => {
                tracing::info!(input = %ctx.name, endpoint = %local, "listening for publishers");
                // Without a monitor, publishers coming and going are not our concern.
                receive(&mut socket, &mut None, &config, &ctx, &tx).await;
                return;
            }
            Err(e) => {
                tracing::warn!(input = %ctx.name, %endpoint, error = %e, "cannot bind; retrying");
                if !backoff.wait(&ctx.cancel).await {
                    return;
                }
            }
        }
    }
}

/// A SUB socket with the subscriptions set; they are sent to each peer as it connects.
async fn new_socket(config: &ZeromqInputConfig) -> SubSocket {
    let mut options = SocketOptions::default();
    options.connect_timeout(CONNECT_TIMEOUT);
    let mut socket = SubSocket::with_options(options);
    for topic in &config.topics {
        // With no peer yet this only records the subscription, so it cannot fail.
        if let Err(e) = socket.subscribe(topic).await {
            tracing::warn!(topic, error = %e, "cannot subscribe");
        }
    }
    socket
}

/// A socket's connection events.
type Events = futures_util::stream::BoxStream<'static, SocketEvent>;

enum Ended {
    Cancelled,
    /// The (only) publisher of a connected socket went away.
    Lost,
}

/// Receives until cancelled or, when `monitor` is given, until the socket's peer disconnects.
async fn receive(
    socket: &mut SubSocket,
    monitor: &mut Option<Events>,
    config: &ZeromqInputConfig,
    ctx: &InputContext,
    tx: &mpsc::Sender<JournalEvent>,
) -> Ended {
    let mut errors = Backoff::new(RETRY_MIN, RETRY_MAX);
    loop {
        tokio::select! {
            () = ctx.cancel.cancelled() => return Ended::Cancelled,
            event = next_event(monitor) => {
                if matches!(event, None | Some(SocketEvent::Disconnected(_))) {
                    return Ended::Lost;
                }
            }
            received = socket.recv() => match received {
                Ok(message) => {
                    errors.reset();
                    if let Some(event) = to_event(message, config, ctx) {
                        // Not raced with `cancel`: what was received is journaled, and the
                        // journaling task drains the queue until every receiver is gone.
                        if tx.send(event).await.is_err() {
                            return Ended::Cancelled;
                        }
                    }
                }
                Err(e) => {
                    // The crate drops the peer that sent something unreadable; others go on.
                    tracing::warn!(input = %ctx.name, error = %e, "receive failed");
                    if monitor.is_some() {
                        return Ended::Lost;
                    }
                    if !errors.wait(&ctx.cancel).await {
                        return Ended::Cancelled;
                    }
                }
            },
        }
    }
}

/// The next socket event; never, without a monitor.
async fn next_event(monitor: &mut Option<Events>) -> Option<SocketEvent> {
    match monitor {
        Some(events) => events.next().await,
        None => std::future::pending().await,
    }
}

/// The journal event for a message; `None` for one this input does not take.
fn to_event(message: ZmqMessage, config: &ZeromqInputConfig, ctx: &InputContext) -> Option<JournalEvent> {
    let frames = message.into_vec();
    match decode::judge(&frames, &config.topics, config.format, config.max_message_bytes) {
        decode::Verdict::NotSubscribed => None,
        decode::Verdict::Accept { topic, raw } => Some(ctx.event(raw, Some(topic))),
        decode::Verdict::Reject { topic, payload, reason } => {
            tracing::debug!(input = %ctx.name, %topic, %reason, "message rejected");
            Some(ctx.rejected(None, payload, Some(topic), reason))
        }
    }
}

/// Journals what the receivers send, up to `max_batch` messages (or `linger`) per record, until
/// the queue closes (every receiver stopped) and is empty.
async fn journal(mut rx: mpsc::Receiver<JournalEvent>, config: &ZeromqInputConfig, ctx: &InputContext) {
    let mut backoff = Backoff::new(RETRY_MIN, RETRY_MAX);
    while let Some(first) = rx.recv().await {
        let mut bytes = size(&first);
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + config.linger;
        while batch.len() < config.max_batch && bytes < MAX_RECORD_BYTES {
            let next = tokio::select! {
                biased;
                next = rx.recv() => next,
                () = tokio::time::sleep_until(deadline) => None,
            };
            let Some(event) = next else { break };
            bytes += size(&event);
            batch.push(event);
        }
        loop {
            match ctx.append(&batch).await {
                Ok(_) => {
                    backoff.reset();
                    break;
                }
                Err(InputError::Closed) => {
                    tracing::error!(input = %ctx.name, lost = batch.len(), "journal closed; received messages not journaled");
                    break;
                }
                Err(e @ InputError::Journal(_)) => {
                    tracing::error!(input = %ctx.name, error = %e, held = batch.len(), "cannot journal; retrying");
                    if ctx.cancel.is_cancelled() || !backoff.wait(&ctx.cancel).await {
                        tracing::error!(input = %ctx.name, lost = batch.len(), "stopping; received messages not journaled");
                        break;
                    }
                }
            }
        }
    }
}

fn size(event: &JournalEvent) -> usize {
    event.raw.len() + event.topic.as_ref().map_or(0, String::len) + 64
}
