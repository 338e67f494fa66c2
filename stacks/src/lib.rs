//! The pipeline as typed CloudFormation.
