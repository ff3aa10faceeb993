//! create, start, wait, logs, inspect, list, remove through bollard.

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use futures::StreamExt;
use shoal_tests::{sdk, shared, unique};
use std::collections::HashMap;

#[tokio::test]
async fn create_start_wait_logs_remove() {
    let d = shared();
    let docker = sdk::connect(&d).await;
    docker.ping().await.expect("ping");
    let name = unique("sdk");

    let created = docker
        .create_container(
            Some(CreateContainerOptionsBuilder::new().name(&name).build()),
            ContainerCreateBody {
                image: Some("busybox".into()),
                cmd: Some(vec![
                    "sh".into(),
                    "-c".into(),
                    "echo sdk-out; echo sdk-err >&2; exit 5".into(),
                ]),
                labels: Some(HashMap::from([("via".into(), "bollard".into())])),
                ..Default::default()
            },
        )
        .await
        .expect("create");
    assert_eq!(created.id.len(), 64);

    docker
        .start_container(
            &name,
            None::<bollard::query_parameters::StartContainerOptions>,
        )
        .await
        .expect("start");
    // bollard sends the wait request only when the stream is polled, so wait for not-running
    // (which also covers a container that already exited).
    let mut wait = docker.wait_container(
        &name,
        Some(
            WaitContainerOptionsBuilder::new()
                .condition("not-running")
                .build(),
        ),
    );
    let next = tokio::time::timeout(std::time::Duration::from_secs(60), wait.next());
    let code = match next.await.expect("wait within 60 s").expect("wait result") {
        Ok(r) => r.status_code,
        // bollard turns a non-zero exit into an error carrying the code.
        Err(bollard::errors::Error::DockerContainerWaitError { code, .. }) => code,
        Err(e) => panic!("wait: {e}"),
    };
    assert_eq!(code, 5);

    let mut out = String::new();
    let mut err = String::new();
    let mut logs = docker.logs(
        &name,
        Some(LogsOptionsBuilder::new().stdout(true).stderr(true).build()),
    );
    while let Some(chunk) = logs.next().await {
        match chunk.expect("logs") {
            bollard::container::LogOutput::StdOut { message } => {
                out.push_str(&String::from_utf8_lossy(&message))
            }
            bollard::container::LogOutput::StdErr { message } => {
                err.push_str(&String::from_utf8_lossy(&message))
            }
            other => panic!("unexpected log frame {other:?}"),
        }
    }
    assert_eq!((out.as_str(), err.as_str()), ("sdk-out\n", "sdk-err\n"));

    let info = docker
        .inspect_container(
            &name,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await
        .expect("inspect");
    let state = info.state.expect("state");
    assert_eq!(state.exit_code, Some(5));
    assert_eq!(
        state.status,
        Some(bollard::models::ContainerStateStatusEnum::EXITED)
    );
    assert_eq!(info.name.as_deref(), Some(format!("/{name}").as_str()));

    let listed = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&HashMap::from([
                    ("label", vec!["via=bollard"]),
                    ("name", vec![name.as_str()]),
                ]))
                .build(),
        ))
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id.as_deref(), Some(created.id.as_str()));

    docker
        .remove_container(
            &name,
            Some(RemoveContainerOptionsBuilder::new().force(true).build()),
        )
        .await
        .expect("remove");
    match docker
        .inspect_container(
            &name,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await
    {
        Err(bollard::errors::Error::DockerResponseServerError { status_code, .. }) => {
            assert_eq!(status_code, 404)
        }
        other => panic!("inspect after remove: {other:?}"),
    }
}

#[tokio::test]
async fn errors_surface_with_status_codes() {
    let d = shared();
    let docker = sdk::connect(&d).await;
    let name = unique("sdk-dup");
    let body = || ContainerCreateBody {
        image: Some("busybox".into()),
        ..Default::default()
    };
    docker
        .create_container(
            Some(CreateContainerOptionsBuilder::new().name(&name).build()),
            body(),
        )
        .await
        .expect("create");
    match docker
        .create_container(
            Some(CreateContainerOptionsBuilder::new().name(&name).build()),
            body(),
        )
        .await
    {
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        }) => {
            assert_eq!(status_code, 409);
            assert!(message.contains("is already in use"), "{message}");
        }
        other => panic!("duplicate create: {other:?}"),
    }
    let version = docker.version().await.expect("version");
    assert!(
        version
            .components
            .unwrap_or_default()
            .iter()
            .any(|c| c.name == "containerd")
    );
    docker
        .remove_container(
            &name,
            None::<bollard::query_parameters::RemoveContainerOptions>,
        )
        .await
        .expect("remove");
}
