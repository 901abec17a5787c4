//! Blob objects on the ledger: list a wallet's, extend, delete. (Storing and reading blob data
//! goes to the storage nodes and lives elsewhere.)

use floe_common::ObjectId;
use floe_ledger_types::{Address, BlobObject, Object, TxError, TxKind};
use serde::Serialize;

use super::{Floe, Receipt};
use crate::error::FloeError;

/// A blob object and its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnedBlob {
    /// The blob object's id (what `extend` and `delete` take).
    pub object_id: ObjectId,
    /// The blob object.
    #[serde(flatten)]
    pub blob: BlobObject,
}

impl Floe {
    /// The blob objects owned by `address`, in object id order (expired ones included until
    /// they are deleted).
    pub async fn blobs_of(&self, address: &Address) -> Result<Vec<OwnedBlob>, FloeError> {
        let objects = self
            .ledger
            .account_objects(address)
            .await
            .map_err(|e| self.err("list_blobs", e))?;
        Ok(objects
            .into_iter()
            .filter_map(|o| match o.object {
                Object::Blob(blob) => Some(OwnedBlob {
                    object_id: o.object_id,
                    blob,
                }),
                _ => None,
            })
            .collect())
    }

    /// Refuses `step` with `unknown_object`, before anything is signed, when `object` is not a
    /// blob object (a transaction that fails on the ledger still pays its fee).
    async fn ensure_blob_object(
        &self,
        step: &'static str,
        object: ObjectId,
    ) -> Result<(), FloeError> {
        match self
            .ledger
            .object(&object)
            .await
            .map_err(|e| self.err(step, e))?
        {
            Some(o) if matches!(o.object, Object::Blob(_)) => Ok(()),
            Some(_) => Err(FloeError::rejected(
                step,
                TxError::WrongObjectType {
                    object,
                    expected: "blob".into(),
                },
            )),
            None => Err(FloeError::rejected(step, TxError::UnknownObject(object))),
        }
    }

    /// The wallet's blob objects.
    pub async fn list_blobs(&self) -> Result<Vec<OwnedBlob>, FloeError> {
        let address = self.signer("list_blobs")?.address();
        self.blobs_of(&address).await
    }

    /// Extends the certified blob object `object` by `epochs` epochs, paying the current storage
    /// price (anyone may pay to extend any blob).
    pub async fn extend_blob(&self, object: ObjectId, epochs: u32) -> Result<Receipt, FloeError> {
        self.ensure_blob_object("extend", object).await?;
        self.execute(
            "extend",
            TxKind::ExtendBlob {
                blob_object: object,
                epochs_ahead: epochs,
            },
        )
        .await
    }

    /// Deletes the wallet's deletable blob object `object`; its remaining storage comes back as
    /// a storage object (in the receipt's created objects).
    pub async fn delete_blob(&self, object: ObjectId) -> Result<Receipt, FloeError> {
        self.ensure_blob_object("delete", object).await?;
        self.execute(
            "delete",
            TxKind::DeleteBlob {
                blob_object: object,
            },
        )
        .await
    }

    /// Sets (inserts or replaces) the attribute `key` of the wallet's blob object `object`
    /// (for example `content-type`, which `floe daemon` serves as a header).
    pub async fn set_blob_attribute(
        &self,
        object: ObjectId,
        key: &str,
        value: &str,
    ) -> Result<Receipt, FloeError> {
        self.execute(
            "set_attribute",
            TxKind::SetBlobAttribute {
                blob_object: object,
                key: key.to_owned(),
                value: value.to_owned(),
            },
        )
        .await
    }

    /// Removes the attribute `key` of the wallet's blob object `object`.
    pub async fn remove_blob_attribute(
        &self,
        object: ObjectId,
        key: &str,
    ) -> Result<Receipt, FloeError> {
        self.execute(
            "remove_attribute",
            TxKind::RemoveBlobAttribute {
                blob_object: object,
                key: key.to_owned(),
            },
        )
        .await
    }
}
