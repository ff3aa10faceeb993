//! Go-template placeholders in a task's hostname, env, mount sources/targets and templated
//! secrets/configs, expanded as Docker does (swarmkit `template/context.go`).
//!
//! Supported: `{{.Service.ID}}`, `{{.Service.Name}}`, `{{.Service.Labels}}` entries as
//! `{{index .Service.Labels "key"}}`, `{{.Node.ID}}`, `{{.Node.Hostname}}`,
//! `{{.Node.Platform.OS}}`, `{{.Node.Platform.Architecture}}`, `{{.Task.ID}}`,
//! `{{.Task.Name}}`, `{{.Task.Slot}}`. Spaces inside the braces are allowed. Anything else is
//! an error naming the placeholder (Docker fails the task the same way).

use std::collections::BTreeMap;

use crate::model::{Node, Task};

/// The values placeholders expand to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// Service ID.
    pub service_id: String,
    /// Service name.
    pub service_name: String,
    /// Service labels.
    pub service_labels: BTreeMap<String, String>,
    /// Node ID.
    pub node_id: String,
    /// Node hostname.
    pub node_hostname: String,
    /// Node OS.
    pub node_os: String,
    /// Node architecture.
    pub node_arch: String,
    /// Task ID.
    pub task_id: String,
    /// Task name (`service.slot.id`).
    pub task_name: String,
    /// Task slot, as text (the node ID for global tasks).
    pub task_slot: String,
}

impl Context {
    /// The context for `task` on `node` (swarmkit `template.NewContext`): the service from the
    /// task's annotations; `{{.Task.Slot}}` is the node ID for global tasks, which have no slot.
    pub fn new(task: &Task, node: Option<&Node>) -> Self {
        let desc = node.and_then(|n| n.description.as_ref());
        let node_id = task
            .node_id
            .as_ref()
            .map(|n| n.to_string())
            .unwrap_or_default();
        Context {
            service_id: task.service_id.to_string(),
            service_name: task.service_annotations.name.clone(),
            service_labels: task.service_annotations.labels.clone(),
            node_hostname: desc.map(|d| d.hostname.clone()).unwrap_or_default(),
            node_os: desc.map(|d| d.platform.os.clone()).unwrap_or_default(),
            node_arch: desc
                .map(|d| d.platform.architecture.clone())
                .unwrap_or_default(),
            task_id: task.id.to_string(),
            task_name: task.name(&task.service_annotations.name),
            task_slot: if task.slot != 0 {
                task.slot.to_string()
            } else {
                node_id.clone()
            },
            node_id,
        }
    }
}

/// A template that cannot be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{{` without `}}`.
    #[error("template: unclosed action in {0:?}")]
    Unclosed(String),
    /// A placeholder Shoal does not know.
    #[error("template: can't evaluate {0:?}")]
    Unknown(String),
}

/// Expands every `{{ ... }}` in `input`.
pub fn expand(input: &str, ctx: &Context) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| TemplateError::Unclosed(input.to_owned()))?;
        out.push_str(&value(after[..end].trim(), ctx)?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn value(action: &str, ctx: &Context) -> Result<String, TemplateError> {
    let v = match action {
        ".Service.ID" => &ctx.service_id,
        ".Service.Name" => &ctx.service_name,
        ".Node.ID" => &ctx.node_id,
        ".Node.Hostname" => &ctx.node_hostname,
        ".Node.Platform.OS" => &ctx.node_os,
        ".Node.Platform.Architecture" => &ctx.node_arch,
        ".Task.ID" => &ctx.task_id,
        ".Task.Name" => &ctx.task_name,
        ".Task.Slot" => &ctx.task_slot,
        other => {
            if let Some(key) = other
                .strip_prefix("index .Service.Labels ")
                .map(|k| k.trim().trim_matches('"'))
            {
                return Ok(ctx.service_labels.get(key).cloned().unwrap_or_default());
            }
            return Err(TemplateError::Unknown(other.to_owned()));
        }
    };
    Ok(v.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_docker_placeholders() {
        let mut ctx = Context {
            service_name: "web".into(),
            node_hostname: "h1".into(),
            task_slot: "3".into(),
            ..Default::default()
        };
        ctx.service_labels.insert("tier".into(), "front".into());
        assert_eq!(
            expand(
                "{{.Service.Name}}-{{ .Task.Slot }}.{{.Node.Hostname}}",
                &ctx
            )
            .unwrap(),
            "web-3.h1"
        );
        assert_eq!(
            expand("{{index .Service.Labels \"tier\"}}", &ctx).unwrap(),
            "front"
        );
        assert_eq!(expand("plain", &ctx).unwrap(), "plain");
        assert!(matches!(
            expand("{{.Nope}}", &ctx),
            Err(TemplateError::Unknown(_))
        ));
        assert!(matches!(
            expand("{{.Task.Slot", &ctx),
            Err(TemplateError::Unclosed(_))
        ));
    }

    #[test]
    fn context_from_task_and_node() {
        use crate::model::{Service, ServiceId, ServiceSpec, TaskId, Timestamp};
        let svc = Service::new(
            ServiceId::new("svc1"),
            ServiceSpec {
                name: "web".into(),
                ..Default::default()
            },
            Timestamp(1),
        );
        let t = Task::new(TaskId::new("t1"), &svc, 2, None, Timestamp(1));
        let ctx = Context::new(&t, None);
        assert_eq!(ctx.task_name, "web.2.t1");
        assert_eq!(
            expand("{{.Service.Name}}-{{.Task.Slot}}", &ctx).unwrap(),
            "web-2"
        );
        let g = Task::new(
            TaskId::new("t2"),
            &svc,
            0,
            Some("node9".into()),
            Timestamp(1),
        );
        let ctx = Context::new(&g, None);
        assert_eq!(
            (ctx.task_slot.as_str(), ctx.task_name.as_str()),
            ("node9", "web.node9.t2")
        );
    }
}
