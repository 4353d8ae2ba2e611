"""Data aggregation (数据归集): departments' batch data gathered as typed, provenanced facts."""
