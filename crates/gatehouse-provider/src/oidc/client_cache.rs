//! A short-lived cache of registered clients for the endpoints that look a client up
//! on every request (authorize, token, introspection, revocation). Entries live a few
//! seconds: a client removed or given a new secret (by the CLI, another instance, the
//! admin API) is honoured everywhere within that time.

use gatehouse_core::ports::{ClientRepository, RepositoryError};
use gatehouse_core::{Client, ClientId};
use gatehouse_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

const TTL: Duration = Duration::from_secs(5);
/// Unknown ids are never cached, so the map holds at most the registered clients;
/// the bound is a guard all the same.
const MAX_ENTRIES: usize = 10_000;

#[derive(Clone, Debug, Default)]
pub struct ClientCache(Arc<RwLock<HashMap<String, (Instant, Client)>>>);

impl ClientCache {
    pub fn get(&self, id: &str) -> Option<Client> {
        let map = self.0.read().unwrap_or_else(PoisonError::into_inner);
        map.get(id)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, client)| client.clone())
    }

    /// The client with this id: from the cache, else from the store (and then cached).
    pub async fn load(
        &self,
        store: &Store,
        id: ClientId,
    ) -> Result<Option<Client>, RepositoryError> {
        if let Some(cached) = self.get(id.as_str()) {
            return Ok(Some(cached));
        }
        let (cache, store) = (self.clone(), store.clone());
        actix_web::web::block(move || cache.load_in(&store, &id))
            .await
            .map_err(|e| RepositoryError::Unavailable(e.to_string()))?
    }

    /// The same where no await can be: inside a transaction, read with it on a miss.
    pub fn load_in(
        &self,
        repo: &impl ClientRepository,
        id: &ClientId,
    ) -> Result<Option<Client>, RepositoryError> {
        if let Some(cached) = self.get(id.as_str()) {
            return Ok(Some(cached));
        }
        let found = repo.client_by_id(id)?;
        if let Some(client) = &found {
            self.put(client);
        }
        Ok(found)
    }

    pub fn put(&self, client: &Client) {
        let mut map = self.0.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, (at, _)| at.elapsed() < TTL);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(client.id.to_string(), (Instant::now(), client.clone()));
    }

    /// Forgets a client this instance changed or removed (others notice within the TTL).
    pub fn forget(&self, id: &str) {
        let mut map = self.0.write().unwrap_or_else(PoisonError::into_inner);
        map.remove(id);
    }
}
