//! A partner's clients: onboarding one, reading one (another partner's is simply not
//! found) and the list.

use tracing::instrument;

use super::{Ally, NewClient};
use crate::domain::{AllyError, Client, ClientId, UserId};
use crate::store::{Page, PageRequest, Store};

impl<S: Store> Ally<S> {
    /// Onboards a client for the calling reseller.
    #[instrument(skip(self, request))]
    pub async fn onboard_client(&self, owner_id: &UserId, request: NewClient) -> Result<Client, AllyError> {
        let client = Client {
            id: ClientId::new(),
            owner_id: owner_id.clone(),
            name: request.name,
            email: request.email,
            created_at: self.now(),
        };
        self.store.insert_client(&client).await?;
        Ok(client)
    }

    /// One of the caller's clients; another partner's client is simply not found.
    pub async fn client(&self, owner_id: &UserId, client_id: &ClientId) -> Result<Client, AllyError> {
        self.store.client(owner_id, client_id).await?.ok_or(AllyError::NotFound("client"))
    }

    /// One of `user_id`'s clients by the id a request gave (404 for another's, or for an id
    /// of another shape), or none when it gave none.
    pub(super) async fn own_client(
        &self,
        user_id: &UserId,
        id: Option<&String>,
    ) -> Result<Option<ClientId>, AllyError> {
        match id {
            Some(id) => {
                let id = ClientId::parse(id.as_str()).map_err(|_| AllyError::NotFound("client"))?;
                Ok(Some(self.client(user_id, &id).await?.id))
            }
            None => Ok(None),
        }
    }

    /// The caller's clients, newest first; 404 for a user without a profile.
    pub async fn clients(&self, owner_id: &UserId, page: &PageRequest) -> Result<Page<Client>, AllyError> {
        self.owned(owner_id, self.store.clients(owner_id, page).await?).await
    }
}
