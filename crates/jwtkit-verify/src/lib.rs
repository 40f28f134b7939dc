//! jwtkit-verify
