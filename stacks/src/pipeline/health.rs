//! The pipeline's health metrics, defined once: the CloudWatch alarms of the pipeline stack
//! (`alerts`) are built from [`ALARMS`], and `deployer grafana` charts and alerts on the same
//! metrics (plus [`CHARTS`], watched but not alarmed).
//!
//! Metric dimensions name resources whose physical names CloudFormation generates
//! (`<stack>-<logical id>-<suffix>`): inside the template an alarm refers to the resource, while a
//! reader outside it (Grafana) finds the resource by [`Watched::name_prefix`].

/// A pipeline-stack resource a health metric is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    /// The transform Lambda.
    TransformFunction,
    /// The to-parquet Lambda.
    ToParquetFunction,
    /// The notify Lambda.
    NotifyFunction,
    /// The failed-events (dead-letter) queue.
    FailedEventsQueue,
    /// The Kinesis stream the scraper writes to.
    QuoteStream,
    /// The Firehose delivery stream to the raw bucket.
    RawDeliveryStream,
    /// The transform Lambda's log group (its `batch done` lines count quarantined records).
    TransformLogGroup,
}

impl Watched {
    /// The resource's logical id in the pipeline stack.
    pub fn logical_id(self) -> &'static str {
        match self {
            Watched::TransformFunction => "Transform",
            Watched::ToParquetFunction => "ToParquet",
            Watched::NotifyFunction => "Notify",
            Watched::FailedEventsQueue => "FailedEventsQueue",
            Watched::QuoteStream => "QuoteStream",
            Watched::RawDeliveryStream => "RawDeliveryStream",
            Watched::TransformLogGroup => "TransformLogGroup",
        }
    }

    /// The start of the physical name CloudFormation generates for the resource in the stack
    /// named `pipeline_stack`: `<stack>-<logical id>-`.
    pub fn name_prefix(self, pipeline_stack: &str) -> String {
        format!("{pipeline_stack}-{}-", self.logical_id())
    }
}

/// One CloudWatch metric of one resource.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthMetric {
    /// What it shows, for people.
    pub title: &'static str,
    /// Metric namespace, such as `AWS/Lambda`.
    pub namespace: &'static str,
    /// Metric name.
    pub metric: &'static str,
    /// The one dimension, whose value is the watched resource's name.
    pub dimension: &'static str,
    /// The resource.
    pub watched: Watched,
    /// `Sum`, `Maximum`, `Average`.
    pub statistic: &'static str,
}

/// A metric with the threshold that means trouble.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthAlarm {
    /// The alarm's logical id.
    pub id: &'static str,
    /// The purpose part of its fixed name `mst-<env>-<name>` (fixed, so its ARN is known before any
    /// stack exists: the rollback triggers name it).
    pub name: &'static str,
    /// What firing means and what to do.
    pub description: &'static str,
    /// The metric.
    pub metric: HealthMetric,
    /// Trouble when the statistic over [`ALARM_PERIOD_SECONDS`] is at least this.
    pub threshold: f64,
}

/// Seconds per alarm datapoint (one datapoint is evaluated).
pub const ALARM_PERIOD_SECONDS: u32 = 300;

const fn lambda(
    title: &'static str,
    metric: &'static str,
    watched: Watched,
    statistic: &'static str,
) -> HealthMetric {
    HealthMetric {
        title,
        namespace: "AWS/Lambda",
        metric,
        dimension: "FunctionName",
        watched,
        statistic,
    }
}

/// The pipeline's alarms.
pub const ALARMS: [HealthAlarm; 5] = [
    HealthAlarm {
        id: "TransformIteratorAgeAlarm",
        name: "transform-iterator-age",
        description: "The transform Lambda is more than 5 minutes behind the quote stream: InfluxDB is slow or down, or the function fails. Check the function's logs.",
        metric: lambda(
            "Transform iterator age (ms)",
            "IteratorAge",
            Watched::TransformFunction,
            "Maximum",
        ),
        threshold: 300_000.0,
    },
    HealthAlarm {
        id: "FailedEventsAlarm",
        name: "failed-events",
        description: "Events failed every retry and wait in the failed-events queue: inspect them, fix the cause, then replay or delete them.",
        metric: HealthMetric {
            title: "Failed-events queue depth",
            namespace: "AWS/SQS",
            metric: "ApproximateNumberOfMessagesVisible",
            dimension: "QueueName",
            watched: Watched::FailedEventsQueue,
            statistic: "Maximum",
        },
        threshold: 1.0,
    },
    HealthAlarm {
        id: "TransformErrorsAlarm",
        name: "transform-errors",
        description: "The transform Lambda reported errors: check its log group.",
        metric: lambda(
            "Transform errors",
            "Errors",
            Watched::TransformFunction,
            "Sum",
        ),
        threshold: 1.0,
    },
    HealthAlarm {
        id: "ToParquetErrorsAlarm",
        name: "to-parquet-errors",
        description: "The to-parquet Lambda reported errors: check its log group.",
        metric: lambda(
            "To-parquet errors",
            "Errors",
            Watched::ToParquetFunction,
            "Sum",
        ),
        threshold: 1.0,
    },
    HealthAlarm {
        id: "NotifyErrorsAlarm",
        name: "notify-errors",
        description: "The notify Lambda reported errors: check its log group.",
        metric: lambda("Notify errors", "Errors", Watched::NotifyFunction, "Sum"),
        threshold: 1.0,
    },
];

/// Metrics charted beside the alarms' but not alarmed on.
pub const CHARTS: [HealthMetric; 5] = [
    HealthMetric {
        title: "Scrape rate (records put on the stream)",
        namespace: "AWS/Kinesis",
        metric: "IncomingRecords",
        dimension: "StreamName",
        watched: Watched::QuoteStream,
        statistic: "Sum",
    },
    lambda(
        "Transform duration (ms)",
        "Duration",
        Watched::TransformFunction,
        "Average",
    ),
    lambda(
        "To-parquet duration (ms)",
        "Duration",
        Watched::ToParquetFunction,
        "Average",
    ),
    lambda(
        "Notify duration (ms)",
        "Duration",
        Watched::NotifyFunction,
        "Average",
    ),
    HealthMetric {
        title: "Firehose delivery freshness (s)",
        namespace: "AWS/Firehose",
        metric: "DeliveryToS3.DataFreshness",
        dimension: "DeliveryStreamName",
        watched: Watched::RawDeliveryStream,
        statistic: "Maximum",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The transform's log group is named after its function's logical id in `functions`.
    #[test]
    fn the_log_group_id_follows_the_function_id() {
        assert_eq!(
            Watched::TransformLogGroup.logical_id(),
            format!("{}LogGroup", Watched::TransformFunction.logical_id())
        );
        assert_eq!(
            Watched::QuoteStream.name_prefix("mst-prod-pipeline"),
            "mst-prod-pipeline-QuoteStream-"
        );
    }
}
