//! qrpack: build, validate and test IBM QRadar content extensions.
