//! containerd images service calls: the name -> manifest records.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use containerd_client::services::v1::images_client::ImagesClient;
use containerd_client::services::v1::{
    CreateImageRequest, DeleteImageRequest, GetImageRequest, Image, ListImagesRequest,
    UpdateImageRequest,
};
use prost_types::FieldMask;

use super::{Runtime, status_to_error};
use crate::runtime::{Descriptor, ImageRecord, RuntimeResult};

impl Runtime {
    fn images_client(&self) -> ImagesClient<containerd_client::tonic::transport::Channel> {
        ImagesClient::new(self.channel())
    }

    /// The record `name`, or None.
    pub async fn get_image(&self, name: &str) -> RuntimeResult<Option<ImageRecord>> {
        let req = self.request(GetImageRequest {
            name: name.to_owned(),
        });
        match self.images_client().get(req).await {
            Ok(resp) => Ok(resp.into_inner().image.map(from_proto)),
            Err(s) if s.code() == containerd_client::tonic::Code::NotFound => Ok(None),
            Err(s) => Err(status_to_error("image get", s)),
        }
    }

    /// Every image record in the namespace.
    pub async fn list_images(&self) -> RuntimeResult<Vec<ImageRecord>> {
        let req = self.request(ListImagesRequest {
            filters: Vec::new(),
        });
        let resp = self
            .images_client()
            .list(req)
            .await
            .map_err(|s| status_to_error("image list", s))?;
        Ok(resp
            .into_inner()
            .images
            .into_iter()
            .map(from_proto)
            .collect())
    }

    /// Creates the record, or points an existing record of that name at
    /// `target` (replacing its labels).
    pub async fn put_image(
        &self,
        name: &str,
        target: &Descriptor,
        labels: HashMap<String, String>,
    ) -> RuntimeResult<ImageRecord> {
        let image = Image {
            name: name.to_owned(),
            labels,
            target: Some(to_proto_descriptor(target)),
            created_at: None,
            updated_at: None,
        };
        let req = self.request(CreateImageRequest {
            image: Some(image.clone()),
            source_date_epoch: None,
        });
        match self.images_client().create(req).await {
            Ok(resp) => Ok(resp
                .into_inner()
                .image
                .map(from_proto)
                .unwrap_or_else(|| from_proto(image))),
            Err(s) if s.code() == containerd_client::tonic::Code::AlreadyExists => {
                let req = self.request(UpdateImageRequest {
                    image: Some(image.clone()),
                    update_mask: Some(FieldMask {
                        paths: vec!["target".to_owned(), "labels".to_owned()],
                    }),
                    source_date_epoch: None,
                });
                let resp = self
                    .images_client()
                    .update(req)
                    .await
                    .map_err(|s| status_to_error("image update", s))?;
                Ok(resp
                    .into_inner()
                    .image
                    .map(from_proto)
                    .unwrap_or_else(|| from_proto(image)))
            }
            Err(s) => Err(status_to_error("image create", s)),
        }
    }

    /// Deletes the record; with `sync`, containerd garbage-collects before
    /// answering, so content and snapshots only it referenced are gone.
    /// A missing record is not an error.
    pub async fn delete_image(&self, name: &str, sync: bool) -> RuntimeResult<()> {
        let req = self.request(DeleteImageRequest {
            name: name.to_owned(),
            sync,
            target: None,
        });
        match self.images_client().delete(req).await {
            Ok(_) => Ok(()),
            Err(s) if s.code() == containerd_client::tonic::Code::NotFound => Ok(()),
            Err(s) => Err(status_to_error("image delete", s)),
        }
    }
}

pub(super) fn to_proto_descriptor(d: &Descriptor) -> containerd_client::types::Descriptor {
    containerd_client::types::Descriptor {
        media_type: d.media_type.clone(),
        digest: d.digest.clone(),
        size: d.size,
        annotations: d.annotations.clone(),
    }
}

pub(super) fn from_proto_descriptor(d: containerd_client::types::Descriptor) -> Descriptor {
    Descriptor {
        media_type: d.media_type,
        digest: d.digest,
        size: d.size,
        annotations: d.annotations,
    }
}

fn to_time(t: Option<prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)))
}

fn from_proto(i: Image) -> ImageRecord {
    ImageRecord {
        name: i.name,
        target: i.target.map(from_proto_descriptor).unwrap_or(Descriptor {
            media_type: String::new(),
            digest: String::new(),
            size: 0,
            annotations: HashMap::new(),
        }),
        labels: i.labels,
        created_at: to_time(i.created_at),
        updated_at: to_time(i.updated_at),
    }
}
