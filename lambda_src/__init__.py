"""Lambda handlers, only where Step Functions cannot do the job natively."""
