"""See: what people read out of the store — exports now; dashboards, alerts and reports later."""
