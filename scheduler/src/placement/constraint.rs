//! Placement constraints (`--constraint node.labels.zone==a`), parsed and matched as
//! swarmkit's `manager/constraint` does, with its error texts.

use crate::model::node::{Node, NodeRole};

/// A constraint that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConstraintError {
    /// Neither `==` nor `!=` in the expression.
    #[error("constraint expected one operator from ==, !=")]
    NoOperator,
    /// The key has characters swarmkit refuses.
    #[error("key '{0}' is invalid")]
    Key(String),
    /// The value has characters swarmkit refuses.
    #[error("value '{0}' is invalid")]
    Value(String),
}

/// `==` or `!=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// Must equal.
    Eq,
    /// Must differ.
    Ne,
}

/// One parsed constraint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Constraint {
    /// The key, e.g. `node.labels.zone` (matched case-insensitively).
    pub key: String,
    /// The operator.
    pub op: Operator,
    /// The expected value.
    pub value: String,
    /// The key, resolved once at parse time so matching allocates nothing.
    pub field: Field,
}

/// A node attribute a constraint or spread preference can name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    /// `node.id`.
    NodeId,
    /// `node.hostname`.
    Hostname,
    /// `node.role`.
    Role,
    /// `node.platform.os`.
    Os,
    /// `node.platform.arch`.
    Arch,
    /// `node.labels.<key>`.
    NodeLabel(String),
    /// `engine.labels.<key>`.
    EngineLabel(String),
    /// Anything else: never matches (swarmkit).
    Unknown,
}

impl Field {
    /// Resolves a descriptor (prefixes case-insensitive, label keys exact).
    pub fn parse(key: &str) -> Field {
        match key.to_ascii_lowercase().as_str() {
            "node.id" => Field::NodeId,
            "node.hostname" => Field::Hostname,
            "node.role" => Field::Role,
            "node.platform.os" => Field::Os,
            "node.platform.arch" => Field::Arch,
            _ => {
                if let Some(label) = strip_prefix_ci(key, "node.labels.") {
                    Field::NodeLabel(label.to_owned())
                } else if let Some(label) = strip_prefix_ci(key, "engine.labels.") {
                    Field::EngineLabel(label.to_owned())
                } else {
                    Field::Unknown
                }
            }
        }
    }

    /// The node's value for the field.
    pub fn get<'a>(&self, node: &'a Node) -> Attribute<'a> {
        let desc = node.description.as_ref();
        Attribute::Known(match self {
            Field::NodeId => Some(node.id.as_str()),
            Field::Hostname => desc.map(|d| d.hostname.as_str()),
            Field::Role => Some(match node.role {
                NodeRole::Manager => "manager",
                NodeRole::Worker => "worker",
            }),
            Field::Os => desc.map(|d| d.platform.os.as_str()),
            Field::Arch => desc.map(|d| d.platform.architecture.as_str()),
            Field::NodeLabel(l) => node.spec.labels.get(l).map(String::as_str),
            Field::EngineLabel(l) => desc.and_then(|d| d.engine.labels.get(l).map(String::as_str)),
            Field::Unknown => return Attribute::UnknownKey,
        })
    }
}

fn key_ok(k: &str) -> bool {
    // swarmkit: ^(?i)[a-z_][a-z0-9\-_.]+$
    let mut chars = k.chars();
    let first = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first
        && k.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn value_ok(v: &str) -> bool {
    // swarmkit: ^(?i)[a-z0-9:\-_\s\.\*\(\)\?\+\[\]\\\^\$\|\/]+$
    !v.is_empty()
        && v.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || c.is_whitespace()
                || matches!(
                    c,
                    ':' | '-'
                        | '_'
                        | '.'
                        | '*'
                        | '('
                        | ')'
                        | '?'
                        | '+'
                        | '['
                        | ']'
                        | '\\'
                        | '^'
                        | '$'
                        | '|'
                        | '/'
                )
        })
}

impl Constraint {
    /// Parses `key==value` or `key!=value` (spaces around either side are ignored).
    pub fn parse(expr: &str) -> Result<Self, ConstraintError> {
        for (tok, op) in [("==", Operator::Eq), ("!=", Operator::Ne)] {
            if let Some((k, v)) = expr.split_once(tok) {
                let key = k.trim();
                if !key_ok(key) {
                    return Err(ConstraintError::Key(k.to_owned()));
                }
                let value = v.trim();
                if !value_ok(value) {
                    return Err(ConstraintError::Value(v.to_owned()));
                }
                return Ok(Constraint {
                    key: key.to_owned(),
                    op,
                    value: value.to_owned(),
                    field: Field::parse(key),
                });
            }
        }
        Err(ConstraintError::NoOperator)
    }

    fn compare(&self, actual: Option<&str>) -> bool {
        let equal = actual.is_some_and(|a| a.eq_ignore_ascii_case(&self.value));
        match self.op {
            Operator::Eq => equal,
            Operator::Ne => !equal,
        }
    }

    /// Whether `node` satisfies the constraint. Unknown keys never match (swarmkit).
    pub fn matches(&self, node: &Node) -> bool {
        match self.field.get(node) {
            Attribute::Known(v) => self.compare(v),
            Attribute::UnknownKey => false,
        }
    }
}

/// The value of a descriptor such as `node.labels.zone` on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribute<'a> {
    /// A known key; `None` when the node lacks it (e.g. a missing label).
    Known(Option<&'a str>),
    /// A key swarmkit does not know.
    UnknownKey,
}

/// Looks up `node.id`, `node.hostname`, `node.role`, `node.platform.os`, `node.platform.arch`,
/// `node.labels.<k>` and `engine.labels.<k>` (prefixes case-insensitive, label keys exact).
pub fn node_attribute<'a>(node: &'a Node, key: &str) -> Attribute<'a> {
    Field::parse(key).get(node)
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Parses every constraint of a spec.
pub fn parse_all(exprs: &[String]) -> Result<Vec<Constraint>, ConstraintError> {
    exprs.iter().map(|e| Constraint::parse(e)).collect()
}

/// Whether `node` satisfies every constraint.
pub fn node_matches(constraints: &[Constraint], node: &Node) -> bool {
    constraints.iter().all(|c| c.matches(node))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::node::{NodeDescription, NodeSpec};
    use crate::model::{Meta, NodeId};

    fn node() -> Node {
        let mut spec = NodeSpec::default();
        spec.labels.insert("zone".into(), "a".into());
        let mut desc = NodeDescription {
            hostname: "Host1".into(),
            ..Default::default()
        };
        desc.platform.os = "linux".into();
        desc.platform.architecture = "x86_64".into();
        desc.engine.labels.insert("disk".into(), "ssd".into());
        Node {
            id: NodeId::new("n1"),
            meta: Meta::default(),
            spec,
            role: NodeRole::Worker,
            description: Some(desc),
            status: Default::default(),
            manager_status: None,
        }
    }

    #[test]
    fn parses_with_swarmkit_texts() {
        let c = Constraint::parse(" node.labels.zone == a ").unwrap();
        assert_eq!(c.key, "node.labels.zone");
        assert_eq!(c.value, "a");
        assert_eq!(
            Constraint::parse("node.role=manager")
                .unwrap_err()
                .to_string(),
            "constraint expected one operator from ==, !="
        );
        assert_eq!(
            Constraint::parse("no de==x").unwrap_err().to_string(),
            "key 'no de' is invalid"
        );
        assert_eq!(
            Constraint::parse("node.role==<x>").unwrap_err().to_string(),
            "value '<x>' is invalid"
        );
    }

    #[test]
    fn matches_every_key() {
        let n = node();
        for (expr, want) in [
            ("node.id==n1", true),
            ("node.id!=n1", false),
            ("node.hostname==host1", true),
            ("node.role==worker", true),
            ("node.role==manager", false),
            ("NODE.ROLE!=manager", true),
            ("node.platform.os==linux", true),
            ("node.platform.arch==x86_64", true),
            ("node.labels.zone==a", true),
            ("node.labels.zone!=a", false),
            ("node.labels.missing==a", false),
            ("node.labels.missing!=a", true),
            ("engine.labels.disk==ssd", true),
            ("unknown.key==x", false),
        ] {
            assert_eq!(Constraint::parse(expr).unwrap().matches(&n), want, "{expr}");
        }
    }
}
