"""The bare app ``make bench`` runs ``cdk synth`` on next to app.py: one empty stack, built as app.py
builds its stacks (no version reporting), so the ratio between them is what the app adds."""

from __future__ import annotations

import aws_cdk as cdk

if __name__ == "__main__":
    application = cdk.App(analytics_reporting=False)
    stack = cdk.Stack(application, "Bare")
    # cdk.json turns on CDK's CloudFormation validation, which rejects a template without resources.
    cdk.Validations.of(stack).acknowledge(cdk.Acknowledgment(
        id="CloudFormation-Validate::F0001", reason="The bare app is empty on purpose: a synth baseline."))
    application.synth()
