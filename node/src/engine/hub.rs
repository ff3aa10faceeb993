//! Lossless fan-out of a process's output to its attached readers.
//!
//! Each reader gets its own bounded queue and the pump waits for room in
//! every queue before reading on, so a slow reader slows the process down
//! (the pipe fills and its writes block, as with dockerd) instead of losing
//! output. A reader that goes away is dropped from the hub.

use std::sync::Mutex;

use tokio::sync::mpsc;

use super::container::OutEvent;

/// Chunks queued per reader before the pump waits for it.
const READER_QUEUE: usize = 256;

/// The readers of one container's (or exec's) output.
#[derive(Debug, Default)]
pub struct OutputHub {
    readers: Mutex<Vec<mpsc::Sender<OutEvent>>>,
}

impl OutputHub {
    /// A new reader: it gets every event published from now on.
    pub fn subscribe(&self) -> mpsc::Receiver<OutEvent> {
        let (tx, rx) = mpsc::channel(READER_QUEUE);
        self.readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(tx);
        rx
    }

    /// Delivers `ev` to every reader, waiting for room in each queue.
    pub async fn publish(&self, ev: OutEvent) {
        let readers = self
            .readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut gone = false;
        for r in &readers {
            gone |= r.send(ev.clone()).await.is_err();
        }
        if gone {
            self.readers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|r| !r.is_closed());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use shoal_api::stream::{OutputChunk, StdStream};

    fn chunk(i: usize) -> OutEvent {
        OutEvent::Chunk(OutputChunk {
            stream: StdStream::Stdout,
            data: Bytes::from(i.to_string()),
            timestamp: None,
        })
    }

    /// A reader that starts late and reads slowly still gets every chunk
    /// in order; the publisher waits for it; a dropped reader is forgotten.
    #[tokio::test]
    async fn slow_reader_loses_nothing() {
        let hub = std::sync::Arc::new(OutputHub::default());
        let mut slow = hub.subscribe();
        let gone = hub.subscribe();
        drop(gone);
        let n = READER_QUEUE * 4;
        let publisher = {
            let hub = hub.clone();
            tokio::spawn(async move {
                for i in 0..n {
                    hub.publish(chunk(i)).await;
                }
                hub.publish(OutEvent::End).await;
            })
        };
        tokio::task::yield_now().await;
        assert!(
            !publisher.is_finished(),
            "publisher must wait for the reader"
        );
        for i in 0..n {
            match slow.recv().await {
                Some(OutEvent::Chunk(c)) => assert_eq!(c.data, Bytes::from(i.to_string())),
                other => panic!("chunk {i}: got {other:?}"),
            }
        }
        assert!(matches!(slow.recv().await, Some(OutEvent::End)));
        publisher.await.unwrap();
        assert_eq!(hub.readers.lock().unwrap().len(), 1);
    }
}
