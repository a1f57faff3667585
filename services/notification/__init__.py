"""NotificationService (photomesh.notification.v1)."""
