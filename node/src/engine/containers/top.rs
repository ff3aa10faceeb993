//! `docker top`: the host's `ps`, filtered to the container's PIDs, as dockerd does.

use shoal_api::models::ContainerTopResponse;

use super::super::{Engine, EngineError, EngineResult};

/// Keeps the rows of `ps` output whose PID column is in `pids`.
pub(crate) fn filter_ps(output: &str, pids: &[u32]) -> EngineResult<ContainerTopResponse> {
    let mut lines = output.lines();
    let header = lines.next().unwrap_or_default();
    let titles: Vec<String> = header.split_whitespace().map(str::to_owned).collect();
    let pid_col = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| EngineError::Invalid("Couldn't find PID field in ps output".into()))?;
    let mut processes = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < titles.len() {
            continue;
        }
        let Ok(pid) = fields[pid_col].parse::<u32>() else {
            continue;
        };
        if !pids.contains(&pid) {
            continue;
        }
        // The last column (the command) may contain spaces.
        let mut row: Vec<String> = fields[..titles.len() - 1]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        row.push(fields[titles.len() - 1..].join(" "));
        processes.push(row);
    }
    Ok(ContainerTopResponse {
        titles: Some(titles),
        processes: Some(processes),
    })
}

impl Engine {
    /// `GET /containers/{id}/top`; 409 when not running.
    pub async fn top(
        &self,
        key: &str,
        ps_args: Option<String>,
    ) -> EngineResult<ContainerTopResponse> {
        let c = self.lookup(key)?;
        let rec = c.snapshot();
        if !rec.state.status.is_live() {
            return Err(EngineError::Conflict(format!(
                "Container {} is not running",
                rec.id
            )));
        }
        let pids = self.runtime().task_pids(&rec.id).await?;
        let args = ps_args
            .filter(|a| !a.trim().is_empty())
            .unwrap_or_else(|| "-ef".into());
        let out = tokio::process::Command::new("ps")
            .args(args.split_whitespace())
            .output()
            .await
            .map_err(EngineError::io("running ps"))?;
        if !out.status.success() {
            return Err(EngineError::Invalid(format!(
                "ps: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        filter_ps(&String::from_utf8_lossy(&out.stdout), &pids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_container_pids() {
        let ps = "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 /sbin/init\nroot 42 1 0 10:00 ? 00:00:00 sleep 100\n";
        let top = filter_ps(ps, &[42]).unwrap();
        let procs = top.processes.unwrap();
        assert_eq!(procs.len(), 1);
        assert_eq!(procs[0][1], "42");
        assert_eq!(procs[0][7], "sleep 100");
    }
}
