"""Rules as dated, versioned configuration (eligibility, direct delivery, early warning), evaluated
over a whole population at once and explained for each subject."""
