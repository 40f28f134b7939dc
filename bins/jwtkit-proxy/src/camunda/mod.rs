//! The Camunda 7 REST facade of the FastAPI Clerk -> Camunda proxy this project replaces: its
//! `/api/processes`, `/api/instances` and `/api/tasks` endpoints, in front of an engine's
//! `engine-rest`. Mounted only when `[camunda]` is configured ([`router`]).
//!
//! Every route needs an authenticated caller. Plain JSON variables from the caller become
//! Camunda typed variables ([`variables`]); when a process starts, the starter's identity from
//! the token is added as variables ([`initiator`]) and the caller cannot set those names. Path
//! parameters are percent-encoded into the engine path and only the documented query parameters
//! are passed on ([`plan`]).
//!
//! Status codes follow the FastAPI proxy ([`engine`]): a started process answers `201 Created`
//! with the engine's JSON, a completed task `200 {}` (its client parses every answer as JSON, so
//! the engine's empty `204` would break it), everything else the engine's status and JSON.

pub mod engine;
pub mod initiator;
pub mod plan;
pub mod routes;
pub mod variables;

use std::sync::Arc;

use jwtkit_verify::Registry;

pub use routes::router;

use crate::auth::Access;
use crate::config::{CamundaSection, ConfigError, InitiatorVariables};
use crate::upstream::Upstream;

/// What the facade's routes need: the registry that validates callers' tokens, who may call,
/// the engine, and how variables are written.
pub struct CamundaFacade {
    /// Validates callers' tokens.
    pub registry: Arc<Registry>,
    /// Who may call it.
    pub access: Access,
    /// The engine (`.../engine-rest`).
    pub engine: Arc<Upstream>,
    /// Names of the starter's identity variables.
    pub variables: InitiatorVariables,
    /// ISO dates become `Date` variables.
    pub dates_as_date: bool,
}

impl CamundaFacade {
    /// From the configuration, with the engine upstream it names and the proxy's registry.
    /// Fails when its access rules do not build.
    pub fn new(
        section: &CamundaSection,
        engine: Arc<Upstream>,
        registry: Arc<Registry>,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            registry,
            access: Access::new("camunda", &section.access)?,
            engine,
            variables: section.initiator_variables.clone(),
            dates_as_date: section.dates_as_date,
        })
    }
}
