//! CloudFormation's hard limits, checked before anything is sent.

use environment::Region;

use super::StackOutput;

/// Resources per stack.
pub const MAX_RESOURCES: usize = 500;
/// Bytes of a template body passed inline in the API call.
pub const INLINE_TEMPLATE_BYTES: usize = 51_200;
/// Bytes of a template read from S3.
pub const S3_TEMPLATE_BYTES: usize = 1_000_000;

/// A template breaks a limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// Too many resources.
    #[error(
        "stack {stack} in {region} has {count} resources; CloudFormation allows {MAX_RESOURCES} per stack. Split the stack."
    )]
    TooManyResources {
        /// Stack name.
        stack: String,
        /// Region.
        region: Region,
        /// Resource count.
        count: usize,
    },
    /// Too large even for S3.
    #[error(
        "stack {stack} in {region} is {bytes} bytes; CloudFormation reads at most {S3_TEMPLATE_BYTES} bytes from S3. Split the stack."
    )]
    TooLarge {
        /// Stack name.
        stack: String,
        /// Region.
        region: Region,
        /// Compact size.
        bytes: usize,
    },
}

/// Checks one stack. A template over the inline limit is fine: the deployer uploads it to S3.
pub(crate) fn check(region: &Region, stack: &StackOutput) -> Result<(), LimitError> {
    check_figures(region, &stack.name, stack.resources, stack.compact.len())
}

fn check_figures(
    region: &Region,
    stack: &str,
    resources: usize,
    bytes: usize,
) -> Result<(), LimitError> {
    if resources > MAX_RESOURCES {
        return Err(LimitError::TooManyResources {
            stack: stack.to_owned(),
            region: region.clone(),
            count: resources,
        });
    }
    if bytes > S3_TEMPLATE_BYTES {
        return Err(LimitError::TooLarge {
            stack: stack.to_owned(),
            region: region.clone(),
            bytes,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region() -> Region {
        // Regions are only made by validation; borrow one from a minimal valid environment.
        crate::tests::minimal_env().regions[0].clone()
    }

    #[test]
    fn limits_are_enforced_at_their_edges() {
        let r = region();
        assert!(check_figures(&r, "s", MAX_RESOURCES, S3_TEMPLATE_BYTES).is_ok());
        assert!(matches!(
            check_figures(&r, "s", MAX_RESOURCES + 1, 10),
            Err(LimitError::TooManyResources { count: 501, .. })
        ));
        let err = check_figures(&r, "s", 1, S3_TEMPLATE_BYTES + 1).unwrap_err();
        assert!(err.to_string().contains("1000001 bytes"), "{err}");
    }
}
