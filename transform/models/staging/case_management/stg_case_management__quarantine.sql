{{ stg_quarantine('raw_case_management') }}
