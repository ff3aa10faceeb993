//! Finding a cluster object the way dockerd does: full ID, then exact name, then a unique ID
//! prefix; the texts are swarmkit's ("service x not found", "... is ambiguous").

use super::ClusterError;

/// Finds the one item of `kind` that `key` names among `items` (`(id, name, item)`).
///
/// Errors: NotFound "{kind} {key} not found"; InvalidArgument when a prefix matches several.
pub fn find<'a, T: Clone + 'a>(
    kind: &str,
    key: &str,
    items: impl IntoIterator<Item = (&'a str, &'a str, &'a T)>,
) -> Result<T, ClusterError> {
    let items: Vec<(&str, &str, &T)> = items.into_iter().collect();
    if let Some((_, _, t)) = items.iter().find(|(id, _, _)| *id == key) {
        return Ok((*t).clone());
    }
    if let Some((_, _, t)) = items
        .iter()
        .find(|(_, name, _)| !key.is_empty() && *name == key)
    {
        return Ok((*t).clone());
    }
    let prefixed: Vec<&T> = items
        .iter()
        .filter(|(id, _, _)| !key.is_empty() && id.starts_with(key))
        .map(|(_, _, t)| *t)
        .collect();
    match prefixed.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(ClusterError::NotFound(format!("{kind} {key} not found"))),
        many => Err(ClusterError::InvalidArgument(format!(
            "{kind} {key} is ambiguous ({} matches found)",
            many.len()
        ))),
    }
}

/// A swarmkit control-API error as dockerd relays it: `rpc error: code = ... desc = ...`,
/// with the status that code maps to.
pub fn rpc_error(code: tonic::Code, message: impl Into<String>) -> ClusterError {
    ClusterError::Remote {
        code,
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_then_name_then_unique_prefix() {
        let items = [("abc1", "web", 1), ("abd2", "db", 2), ("web", "other", 3)];
        let it = || items.iter().map(|(i, n, v)| (*i, *n, v));
        assert_eq!(find("service", "web", it()).unwrap(), 3);
        assert_eq!(find("service", "db", it()).unwrap(), 2);
        assert_eq!(find("service", "abc", it()).unwrap(), 1);
        assert_eq!(
            find("service", "ab", it()).unwrap_err().to_string(),
            "service ab is ambiguous (2 matches found)"
        );
        assert_eq!(
            find("service", "zz", it()).unwrap_err().to_string(),
            "service zz not found"
        );
    }
}
