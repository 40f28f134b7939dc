//! The Camunda REST facade of seed 001 (filled in by the Camunda module work).

use std::sync::Arc;

use axum::Router;

use crate::app::AppState;
use crate::auth::Access;
use crate::config::{CamundaSection, InitiatorVariables};
use crate::upstream::Upstream;

/// The facade's settings and engine.
pub struct CamundaFacade {
    /// The engine (`.../engine-rest`).
    pub engine: Arc<Upstream>,
    /// Who may call it.
    pub access: Access,
    /// Names of the starter's identity variables.
    pub variables: InitiatorVariables,
    /// ISO dates become `Date` variables.
    pub dates_as_date: bool,
}

impl CamundaFacade {
    /// From the configuration.
    pub fn new(section: &CamundaSection, engine: Arc<Upstream>) -> Self {
        Self {
            engine,
            access: Access::new(&section.access),
            variables: section.initiator_variables.clone(),
            dates_as_date: section.dates_as_date,
        }
    }
}

/// The facade's routes.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
}

/// A metrics label for a facade path: ids replaced by placeholders.
pub fn route_label(path: &str) -> String {
    path.to_owned()
}
