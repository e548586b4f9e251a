"""Satisfaction (客户满意度): surveys on four channels, CSAT / NPS / CES, c = b/a and the CSI."""
