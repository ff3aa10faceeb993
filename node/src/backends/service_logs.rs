//! `GET /services/{id}/logs` and `GET /tasks/{id}/logs`: the broker's log events as the
//! output chunks moby's `WriteLogStream` writes (details attributes before each line,
//! errors on the system-error stream).

use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use shoal_api::error::ApiResult;
use shoal_api::routers::services::ServiceLogsOptions;
use shoal_api::stream::{OutputChunk, OutputStream, StdStream};
use shoal_scheduler::model::{NodeId, ServiceId, Task, TaskId};

use super::swarm::cluster_error;
use crate::cluster::logs::wire::{LogEvent, LogLine, LogOptions, LogRequest};
use crate::cluster::manager::ManagerCtx;

/// The merged logs of `tasks` (those placed on a node; the others have no container yet).
/// Following, the tasks of `service` that start later join in (`docker service logs -f`
/// across replacements and scaling).
pub async fn task_logs(
    m: &ManagerCtx,
    tasks: Vec<Task>,
    service: Option<ServiceId>,
    opts: &ServiceLogsOptions,
) -> ApiResult<OutputStream> {
    let services: std::collections::HashMap<TaskId, ServiceId> = tasks
        .iter()
        .map(|t| (t.id.clone(), t.service_id.clone()))
        .collect();
    let placed = tasks
        .into_iter()
        .filter_map(|t| t.node_id.map(|n| (t.id, n)))
        .collect();
    let req = LogRequest {
        tasks: placed,
        options: LogOptions::from(&opts.logs),
        services: service.iter().cloned().collect(),
    };
    let events = crate::cluster::logs::subscribe(m, req)
        .await
        .map_err(cluster_error)?;
    // Tasks that joined later are all of the followed service.
    let fallback = service.unwrap_or_default();
    let details = opts.details;
    Ok(events
        .flat_map(move |e| {
            let chunks = match e {
                LogEvent::Lines { node, lines } => lines
                    .into_iter()
                    .flat_map(|l| {
                        let service = services.get(&l.task_id).unwrap_or(&fallback).clone();
                        line_chunks(&node, &service, l, details)
                    })
                    .collect(),
                // moby: `fmt.Fprintf(sysErrStream, "Error grabbing logs: %v\n", msg.Err)`.
                LogEvent::Error(msg) => vec![OutputChunk {
                    stream: StdStream::Systemerr,
                    data: Bytes::from(format!("Error grabbing logs: {msg}\n")),
                    timestamp: None,
                }],
            };
            futures::stream::iter(chunks)
        })
        .boxed())
}

/// One chunk per line (the CLI parses each frame as one `[timestamp ]details line`), with
/// the swarm context attributes first when `details` is asked, as moby's ServiceLogs adds
/// them: `com.docker.swarm.node.id=..,com.docker.swarm.service.id=..,com.docker.swarm.task.id=..`.
fn line_chunks(node: &NodeId, service: &ServiceId, l: LogLine, details: bool) -> Vec<OutputChunk> {
    let prefix = details.then(|| {
        format!(
            "com.docker.swarm.node.id={},com.docker.swarm.service.id={},com.docker.swarm.task.id={} ",
            query_escape(node.as_str()),
            query_escape(service.as_str()),
            query_escape(l.task_id.as_str())
        )
    });
    let stream = l.std_stream();
    l.data
        .split_inclusive(|b| *b == b'\n')
        .map(|piece| {
            let mut b =
                BytesMut::with_capacity(piece.len() + prefix.as_ref().map_or(0, String::len));
            if let Some(p) = &prefix {
                b.put_slice(p.as_bytes());
            }
            b.put_slice(piece);
            OutputChunk {
                stream,
                data: b.freeze(),
                timestamp: l.timestamp,
            }
        })
        .collect()
}

/// Go's `url.QueryEscape` (the CLI unescapes each attribute with `url.QueryUnescape`).
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_is_its_own_chunk_with_the_swarm_context_first() {
        let l = LogLine {
            task_id: TaskId::new("t1"),
            stream: 2,
            timestamp: None,
            data: b"a\nb\npartial".to_vec(),
        };
        let c = line_chunks(&NodeId::new("n1"), &ServiceId::new("s1"), l, true);
        assert_eq!(c.len(), 3);
        assert_eq!(
            &c[0].data[..],
            b"com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=t1 a\n"
        );
        assert!(c[2].data.ends_with(b" partial"));
        assert_eq!(c[1].stream, StdStream::Stderr);
    }

    #[test]
    fn without_details_lines_are_as_written() {
        let l = LogLine {
            task_id: TaskId::new("t1"),
            stream: 1,
            timestamp: None,
            data: b"x\n".to_vec(),
        };
        let c = line_chunks(&NodeId::new("n1"), &ServiceId::new("s1"), l, false);
        assert_eq!(&c[0].data[..], b"x\n");
    }

    #[test]
    fn escapes_like_go() {
        assert_eq!(query_escape("a b,c=d"), "a+b%2Cc%3Dd");
    }
}
