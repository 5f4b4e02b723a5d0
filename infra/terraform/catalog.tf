# Datasets, queryable: one Glue table per dataset in this database, created and evolved by csv-to-parquet (its
# schema registry; see the README's Datasets section), with partition projection so Athena reads
# curated/<dataset>/ from the first file on, with no crawler and no partition registration. An Athena workgroup
# for the queries, its results encrypted under the bucket.

resource "aws_glue_catalog_database" "datasets" {
  name        = local.glue_database
  description = "Tributary datasets: one table per dataset, each version registered by csv-to-parquet"
}

resource "aws_athena_workgroup" "datasets" {
  name          = "${var.name_prefix}-datasets"
  description   = "Queries over Tributary's curated datasets"
  force_destroy = var.force_destroy

  configuration {
    # Queries cannot opt out of the result location and its encryption.
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true

    result_configuration {
      output_location = "s3://${aws_s3_bucket.data.id}/${local.prefixes.athena_results}"
      # SSE-S3, as the bucket's own objects are (storage.tf says why not SSE-KMS).
      encryption_configuration {
        encryption_option = "SSE_S3"
      }
    }
  }
}
