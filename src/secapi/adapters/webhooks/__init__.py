"""Outbound webhooks: the URL policy (shared with registries' address rules) and the signing HTTP sender."""

from secapi.adapters.webhooks.sender import HttpWebhookSender
from secapi.adapters.webhooks.url_policy import WebhookAddressPolicy

__all__ = ["HttpWebhookSender", "WebhookAddressPolicy"]
