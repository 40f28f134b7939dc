//! jwtkit-mint
