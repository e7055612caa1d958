"""Delivery-status feedback: provider delivery events update the delivery-log record."""
